// What a local run prints (local_pipeline.h, "latency output"): the --latency-out JSON with the
// Rust pipeline's fields, the per-stage compute split, and the run's result lines or JSON.
#include <algorithm>
#include <cmath>
#include <iostream>

#include "apps/cpipe/command_registry.h"
#include "apps/cpipe/local_pipeline.h"

namespace cpipe::cli {

// ---- latency output -----------------------------------------------------------------------------

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  double rank = std::ceil(p / 100.0 * double(v.size()));
  size_t k = size_t(std::clamp(rank, 1.0, double(v.size()))) - 1;
  return v[k];
}

namespace {
double mean(const std::vector<double>& v) {
  if (v.empty()) return 0;
  double s = 0;
  for (double x : v) s += x;
  return s / double(v.size());
}
double sum(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s;
}
}  // namespace

nlohmann::ordered_json request_latency_json(const pipeline::GenerateResult& r) {
  std::vector<double> decode;
  if (r.token_ms.size() > 1) decode.assign(r.token_ms.begin() + 1, r.token_ms.end());
  double total_ms = sum(r.token_ms);
  nlohmann::ordered_json j;
  j["ttft_ms"] = r.prompt_ms;
  j["token_latencies_ms"] = decode;
  j["p50_ms"] = percentile(decode, 50);
  j["p95_ms"] = percentile(decode, 95);
  j["p99_ms"] = percentile(decode, 99);
  j["mean_ms"] = mean(decode);
  j["tokens"] = r.tokens.size();
  j["total_ms"] = total_ms;
  j["tokens_per_s"] = total_ms > 0 ? double(r.tokens.size()) * 1000.0 / total_ms : 0.0;
  j["decode_tokens_per_s"] = mean(decode) > 0 ? 1000.0 / mean(decode) : 0.0;
  j["attempts"] = r.attempts;
  // The Rust confidential-ml-pipeline's fields: latencies_ms[0] is the prompt (prefill to the
  // first token), generation_tokens counts the steps after it.
  j["generation_tokens"] = decode.size();
  j["latencies_ms"] = r.token_ms;
  j["prompt_ms"] = r.prompt_ms;
  return j;
}

nlohmann::ordered_json latency_report_json(const LocalRunReport& report) {
  nlohmann::ordered_json j;
  const LocalRequestOutcome* first = nullptr;
  for (const auto& q : report.requests)
    if (q.status.ok()) {
      first = &q;
      break;
    }
  if (first) j = request_latency_json(first->result);
  j["ok"] = report.all_ok();
  if (report.requests.size() > 1) {
    std::vector<double> decode, ttft;
    uint64_t tokens = 0;
    auto& arr = j["requests"] = nlohmann::ordered_json::array();
    for (const auto& q : report.requests) {
      nlohmann::ordered_json e;
      if (q.status.ok()) {
        e = request_latency_json(q.result);
        ttft.push_back(q.result.prompt_ms);
        tokens += q.result.tokens.size();
        if (q.result.token_ms.size() > 1)
          decode.insert(decode.end(), q.result.token_ms.begin() + 1, q.result.token_ms.end());
      } else {
        e["error"] = {{"code", std::string(q.status.code_name())}, {"message", q.status.message()}};
      }
      arr.push_back(std::move(e));
    }
    j["aggregate"] = {{"requests", report.requests.size()},
                      {"tokens", tokens},
                      {"wall_ms", report.wall_ms},
                      {"tokens_per_s", report.wall_ms > 0 ? double(tokens) * 1000.0 / report.wall_ms : 0.0},
                      {"ttft_p50_ms", percentile(ttft, 50)},
                      {"p50_ms", percentile(decode, 50)},
                      {"p95_ms", percentile(decode, 95)},
                      {"p99_ms", percentile(decode, 99)}};
  }
  // Where the time went: each stage's forward passes during the requests; the rest of a
  // token's latency is channels, hops, sampling and queueing.
  if (!report.stage_work.empty()) {
    auto& stages = j["stage_compute"] = nlohmann::ordered_json::array();
    for (size_t i = 0; i < report.stage_work.size(); ++i)
      stages.push_back({{"stage", i},
                        {"frames", report.stage_work[i].frames_processed},
                        {"compute_ms", double(report.stage_work[i].compute_us) / 1000.0}});
  }
  return j;
}

namespace {
std::string join_ids(const std::vector<int32_t>& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? " " : "") + std::to_string(ids[i]);
  return s;
}

// As report_error (command_registry.cc, which lives in the executable, not this library).
int print_error(const Status& status, bool json) {
  if (json)
    std::cout << nlohmann::ordered_json{{"ok", false},
                                        {"error", {{"code", std::string(status.code_name())},
                                                   {"number", int(status.code())},
                                                   {"message", status.message()}}}}
                     .dump(2)
              << std::endl;
  else
    std::cerr << "cpipe: error: " << status.to_string() << std::endl;
  return kExitFailure;
}
}  // namespace

int print_local_run(const LocalRunReport& report, const std::vector<int32_t>& prompt,
                    const model::BpeTokenizer* tok, bool json, const std::string& latency_out,
                    const nlohmann::ordered_json& extra) {
  if (!report.setup.ok()) return print_error(report.setup, json);
  auto text_of = [tok](const std::vector<int32_t>& ids) -> std::string {
    if (!tok) return {};
    auto t = tok->decode(ids);
    return t.ok() ? *t : std::string();
  };
  if (!latency_out.empty()) {
    Status st = write_text_file(latency_out, latency_report_json(report).dump(2) + "\n");
    if (!st.ok()) return print_error(st, json);
  }
  const Status* failure = nullptr;
  for (const auto& q : report.requests)
    if (!q.status.ok() && !failure) failure = &q.status;
  if (json) {
    nlohmann::ordered_json j;
    j["ok"] = failure == nullptr;
    for (const auto& [k, v] : extra.items()) j[k] = v;
    j["attestation"] = report.stage_platform;
    j["prompt_ids"] = prompt;
    auto& reqs = j["requests"] = nlohmann::ordered_json::array();
    for (const auto& q : report.requests) {
      nlohmann::ordered_json e;
      e["status"] = std::string(q.status.code_name());
      if (!q.status.ok()) e["error"] = q.status.to_string();
      e["tokens"] = q.result.tokens;
      if (tok) e["text"] = text_of(q.result.tokens);
      e["attempts"] = q.result.attempts;
      e["ttft_ms"] = q.result.prompt_ms;
      e["token_ms"] = q.result.token_ms;
      reqs.push_back(std::move(e));
    }
    j["wall_ms"] = report.wall_ms;
    j["pipelines_built"] = report.stats.pipelines_built;
    j["pipeline_failures"] = report.stats.pipeline_failures;
    j["retries"] = report.stats.retries;
    if (failure) j["error"] = {{"code", std::string(failure->code_name())}, {"message", failure->message()}};
    std::cout << j.dump(2) << std::endl;
  } else {
    std::cout << "attestation: " << report.stage_platform << " (DEVELOPMENT ONLY)\n";
    std::cout << "prompt ids: " << join_ids(prompt) << "\n";
    for (size_t i = 0; i < report.requests.size(); ++i) {
      const auto& q = report.requests[i];
      std::cout << "request " << i << ": " << q.status.to_string() << "\n  generated ids: " << join_ids(q.result.tokens)
                << "\n";
      if (tok && !q.result.tokens.empty()) std::cout << "  text: " << nlohmann::json(text_of(q.result.tokens)).dump() << "\n";
      if (q.status.ok()) {
        auto l = request_latency_json(q.result);
        std::cout << "  ttft " << l["ttft_ms"].get<double>() << " ms, decode p50 " << l["p50_ms"].get<double>()
                  << " ms, " << l["tokens_per_s"].get<double>() << " tokens/s, attempts " << q.result.attempts << "\n";
      }
    }
    std::cout << "pipelines built " << report.stats.pipelines_built << ", failures " << report.stats.pipeline_failures
              << ", retries " << report.stats.retries << std::endl;
    if (failure) std::cerr << "cpipe: error: " << failure->to_string() << std::endl;
  }
  return failure ? kExitFailure : kExitOk;
}

}  // namespace cpipe::cli
