// The simulated pipeline's orchestrator program (sim_pipeline_world.h): it waits for the stages'
// first boots, builds the pipeline, runs every session's requests (workload arrival times
// included) through the real Orchestrator, and records outcomes and what stages still hold.
#include <algorithm>

#include "apps/cpipe/sim_pipeline_world.h"

namespace cpipe::cli::sim_pipeline {
namespace {

using runtime::Task;

// The report slots session `s` runs, in order: its workload items, or `requests` in a row.
std::vector<size_t> session_slots(const World* w, int s) {
  std::vector<size_t> slots;
  if (w->opt.workload.empty()) {
    for (int r = 0; r < w->opt.requests; ++r) slots.push_back(size_t(s) * size_t(w->opt.requests) + size_t(r));
  } else {
    for (size_t i = 0; i < w->opt.workload.size(); ++i)
      if (w->opt.workload[i].session == s) slots.push_back(i);
  }
  return slots;
}

Task<void> run_session(World* w, int session) {
  std::vector<size_t> slots = session_slots(w, session);
  for (size_t r = 0; r < slots.size(); ++r) {
    pipeline::GenerateRequest req;
    if (w->opt.workload.empty()) {
      req.prompt = w->opt.prompts.empty() ? w->opt.prompt : w->opt.prompts[r % w->opt.prompts.size()];
      req.max_new_tokens = w->opt.max_new_tokens;
    } else {
      const SimWorkItem& item = w->opt.workload[slots[r]];
      req.prompt = item.prompt;
      req.max_new_tokens = item.max_new_tokens;
      runtime::Duration wait = from_ms(item.at_ms) - (w->sim->now() - runtime::MonoTime{0});
      if (wait.count() > 0) co_await runtime::sleep_for(w->client->clock(), wait);
    }
    req.keep_logits = w->opt.keep_logits;
    auto result = co_await w->orchestrator->generate(std::move(req));
    const size_t first_slot = slots[r];
    SimPipelineRequest& out = w->report.requests[first_slot];
    if (result.ok()) {
      out.tokens = result->tokens;
      out.logits = std::move(result->logits);
      out.token_ms = result->token_ms;
      out.attempts = result->attempts;
      out.receipt = result->receipt;
      out.status = out.code = "OK";
    } else {
      out.status = result.status().to_string();
      out.code = std::string(result.status().code_name());
    }
    w->note("orchestrator", "request " + std::to_string(first_slot) + ": " + out.status +
                                " (" + std::to_string(out.tokens.size()) + " tokens)");
  }
  if (--w->sessions_left == 0) w->all_done->set(true);
}

// The orchestrator connects once every stage's first boot is over (cold starts finished or
// failed: a failed stage refuses init with its error).
Task<void> wait_for_boots(World* w) {
  // A boot that never ends (it should not: every cold-start step has a deadline) stops being
  // waited for after a minute; its stage then refuses init ("no model loaded").
  for (int waited_ms = 0; waited_ms < 60000; ++waited_ms) {
    // A stage killed while booting (a kill during its KMS call) boots again once restarted.
    bool pending = false;
    for (const StageProcess& p : w->stages) {
      pending = pending || p.restart_pending;
      for (const auto& b : p.boots) pending = pending || !b->done;
    }
    if (!pending) break;
    co_await runtime::sleep_for(w->client->clock(), std::chrono::milliseconds(1));
  }
  for (size_t i = 0; i < w->stages.size(); ++i) {
    const auto& b = *w->stages[i].boots.back();
    if (!b.needed) continue;
    w->note(w->stages[i].node->name(),
            b.result.ok() ? (w->opt.sealed ? "cold start done: " + b.result->timings.to_json() : "booted: receipt key attested")
                          : "boot failed, refusing to serve: " + b.result.status().to_string());
  }
}

}  // namespace

Task<void> run_client(World* w) {
  co_await wait_for_boots(w);
  Status st = co_await w->orchestrator->start();
  w->report.setup_ms = double(w->sim->now().ns) / 1e6;
  if (!st.ok()) {
    w->note("orchestrator", "pipeline set-up failed: " + st.to_string());
    for (auto& r : w->report.requests) {
      r.status = st.to_string();
      r.code = std::string(st.code_name());
    }
    co_await w->orchestrator->shutdown();
    co_return;
  }
  const auto& ev = w->orchestrator->stage_evidence();
  if (!ev.empty()) w->report.stage_platform = ev.front().platform;
  w->note("orchestrator", "pipeline ready: " + std::to_string(w->stages.size()) +
                              " stages attested (" + w->report.stage_platform + "), data chain up");
  int sessions = w->opt.concurrency;
  if (!w->opt.workload.empty()) {
    sessions = 0;
    for (const SimWorkItem& item : w->opt.workload) sessions = std::max(sessions, item.session + 1);
  }
  w->sessions_left = sessions;
  w->all_done.emplace(*w->client);
  for (int s = 0; s < sessions; ++s) runtime::spawn(*w->client, run_session(w, s));
  co_await *w->all_done;
  w->report.work_done_ms = to_ms(w->sim->now() - runtime::MonoTime{0});
  if (w->opt.receipts) {
    // Every release has gone round the chain (receipts wait for it): what do stages still hold?
    co_await runtime::sleep_for(w->client->clock(), std::chrono::milliseconds(20));
    for (const StageProcess& p : w->stages)
      if (!p.incarnations.empty() && !p.incarnations.back()->killed()) {
        const auto& st = p.incarnations.back()->stats();
        w->report.held_at_end += st.active_requests + st.receipt_records;
      }
  }
  co_await w->orchestrator->shutdown();
  w->note("orchestrator", "shut down");
}

}  // namespace cpipe::cli::sim_pipeline
