// Manifest cross-field rules: stage order, layer coverage, endpoint roles and collisions, data
// chaining, extension consistency and agreement with the model. The first broken rule wins, in
// the order of validate_manifest below, so an error is reproducible. docs/manifest.md explains
// the endpoint interpretation (who listens where) these rules encode.
#include <cstdint>
#include <string>
#include <vector>

#include "core/pipeline/manifest.h"

namespace cpipe::pipeline {
namespace {

using runtime::Endpoint;

std::string stage_path(size_t i) { return "$.stages[" + std::to_string(i) + "]"; }
std::string endpoint_path(size_t i, std::string_view role) {
  return stage_path(i) + ".endpoint." + std::string(role);
}

Status fail(ManifestError* out, ErrorCode code, std::string path, std::string message) {
  ManifestError err{code, std::move(path), std::move(message)};
  Status status = err.status();
  if (out) *out = std::move(err);
  return status;
}

// Concatenation through append: GCC 12 warns falsely (-Wrestrict) on `"literal" + std::string&&`.
template <typename... Parts>
std::string cat(const Parts&... parts) {
  std::string out;
  (out.append(parts), ...);
  return out;
}
std::string num(uint64_t v) { return std::to_string(v); }

std::string lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  }
  return s;
}

bool is_tcp_wildcard(const Endpoint& e) {
  return e.kind == Endpoint::Kind::kTcp && (e.host == "0.0.0.0" || e.host == "::");
}
bool is_vsock_any(const Endpoint& e) {
  // 0 is how the Rust files say "any" inside an enclave; 0xFFFFFFFF is Linux's VMADDR_CID_ANY.
  return e.kind == Endpoint::Kind::kVsock && (e.cid == 0 || e.cid == 0xffffffffu);
}

bool same_tcp_address(const Endpoint& a, const Endpoint& b) {
  return a.port == b.port && lower(a.host) == lower(b.host);
}

// Two TCP listeners collide when they would bind the same port on one host: same address, or
// either binds the wildcard. Stages may all share one host, so distinct stages are compared too.
bool tcp_binds_collide(const Endpoint& a, const Endpoint& b) {
  return a.port == b.port &&
         (lower(a.host) == lower(b.host) || is_tcp_wildcard(a) || is_tcp_wildcard(b));
}

struct Listener {
  Endpoint endpoint;
  std::string path;
  size_t stage;  // SIZE_MAX for the orchestrator
};

Status check_layers(const Manifest& m, ManifestError* error) {
  uint32_t next = 0;  // first layer not yet assigned
  for (size_t i = 0; i < m.stages.size(); ++i) {
    const StageSpec& s = m.stages[i];
    std::string p = stage_path(i);
    std::string range = cat("[", num(s.layer_start), ", ", num(s.layer_end), ")");
    if (s.layer_start >= m.total_layers)
      return fail(error, ErrorCode::PIPELINE_LAYER_RANGE, p + ".layer_start",
                  cat("layer_start ", num(s.layer_start), " is not below total_layers ",
                      num(m.total_layers)));
    if (s.layer_end <= s.layer_start)
      return fail(error, ErrorCode::PIPELINE_LAYER_RANGE, p + ".layer_end",
                  cat("empty layer range ", range, " (layer_end is exclusive)"));
    if (s.layer_end > m.total_layers)
      return fail(error, ErrorCode::PIPELINE_LAYER_RANGE, p + ".layer_end",
                  cat("layer_end ", num(s.layer_end), " exceeds total_layers ",
                      num(m.total_layers)));
    if (s.layer_start > next)
      return fail(error, ErrorCode::PIPELINE_LAYER_GAP, p + ".layer_start",
                  cat("layers [", num(next), ", ", num(s.layer_start), ") belong to no stage"));
    if (s.layer_start < next)
      return fail(error, ErrorCode::PIPELINE_LAYER_OVERLAP, p + ".layer_start",
                  cat("range ", range, " overlaps the previous stage, which ends at ", num(next)));
    next = s.layer_end;
  }
  if (next < m.total_layers)
    return fail(error, ErrorCode::PIPELINE_LAYER_GAP,
                stage_path(m.stages.size() - 1) + ".layer_end",
                cat("layers [", num(next), ", ", num(m.total_layers), ") belong to no stage"));
  return Status::Ok();
}

Status check_endpoints(const Manifest& m, ManifestError* error) {
  const Endpoint::Kind kind = m.stages[0].endpoint.control.kind;
  const char* kind_name = kind == Endpoint::Kind::kVsock ? "vsock" : "tcp";
  for (size_t i = 0; i < m.stages.size(); ++i) {
    const StageEndpoints& e = m.stages[i].endpoint;
    for (auto [role, ep] : {std::pair{"control", &e.control}, std::pair{"data_in", &e.data_in},
                            std::pair{"data_out", &e.data_out}}) {
      if (ep->kind != kind)
        return fail(error, ErrorCode::PIPELINE_BAD_ENDPOINT, endpoint_path(i, role) + ".type",
                    std::string("stages mix transports: expected \"") + kind_name +
                        "\" like $.stages[0].endpoint.control");
    }
    // data_out is dialled, so it must name one peer.
    if (is_tcp_wildcard(e.data_out))
      return fail(error, ErrorCode::PIPELINE_BAD_ENDPOINT, endpoint_path(i, "data_out") + ".addr",
                  "data_out is connected to and cannot be a wildcard address");
    if (is_vsock_any(e.data_out))
      return fail(error, ErrorCode::PIPELINE_BAD_ENDPOINT, endpoint_path(i, "data_out") + ".cid",
                  "data_out is connected to and cannot be cid " + std::to_string(e.data_out.cid) +
                      " (any)");
  }
  return Status::Ok();
}

Status check_listeners(const Manifest& m, ManifestError* error) {
  std::vector<Listener> listeners;
  for (size_t i = 0; i < m.stages.size(); ++i) {
    listeners.push_back({m.stages[i].endpoint.control, endpoint_path(i, "control"), i});
    listeners.push_back({m.stages[i].endpoint.data_in, endpoint_path(i, "data_in"), i});
  }
  if (!m.uses_vsock()) {
    // The orchestrator listens for the last stage's output on the same host as the stages.
    std::string path = m.orchestrator_data_in ? "$.orchestrator.data_in"
                                              : endpoint_path(m.stages.size() - 1, "data_out");
    listeners.push_back({m.result_endpoint(), path, SIZE_MAX});
  }
  for (size_t b = 0; b < listeners.size(); ++b) {
    for (size_t a = 0; a < b; ++a) {
      const Listener& la = listeners[a];
      const Listener& lb = listeners[b];
      bool collide = false;
      if (la.endpoint.kind == Endpoint::Kind::kTcp && lb.endpoint.kind == Endpoint::Kind::kTcp) {
        collide = tcp_binds_collide(la.endpoint, lb.endpoint);
      } else if (la.endpoint.kind == Endpoint::Kind::kVsock &&
                 lb.endpoint.kind == Endpoint::Kind::kVsock) {
        // Each stage is its own enclave (its own cid): only ports inside one stage can clash.
        collide = la.stage == lb.stage && la.endpoint.port == lb.endpoint.port;
      }
      if (collide)
        return fail(error, ErrorCode::PIPELINE_DUPLICATE_LISTENER, lb.path,
                    lb.endpoint.to_string() + " would bind the address already bound by " +
                        la.path + " (" + la.endpoint.to_string() + ")");
    }
  }
  if (m.uses_vsock()) {
    // Every data_out reaches a distinct listener of the parent's relay.
    for (size_t b = 0; b < m.stages.size(); ++b) {
      for (size_t a = 0; a < b; ++a) {
        if (m.stages[a].endpoint.data_out == m.stages[b].endpoint.data_out)
          return fail(error, ErrorCode::PIPELINE_DUPLICATE_LISTENER, endpoint_path(b, "data_out"),
                      m.stages[b].endpoint.data_out.to_string() +
                          " is also the data_out of " + stage_path(a) +
                          ": the relay cannot tell the two streams apart");
      }
    }
  }
  return Status::Ok();
}

Status check_chain(const Manifest& m, ManifestError* error) {
  if (m.uses_vsock()) return Status::Ok();  // the parent relays; nothing to compare in-file
  for (size_t i = 0; i + 1 < m.stages.size(); ++i) {
    const Endpoint& out = m.stages[i].endpoint.data_out;
    const Endpoint& next_in = m.stages[i + 1].endpoint.data_in;
    if (!same_tcp_address(out, next_in))
      return fail(error, ErrorCode::PIPELINE_CHAIN_BROKEN, endpoint_path(i, "data_out") + ".addr",
                  out.to_string() + " is not " + stage_path(i + 1) + "'s data_in (" +
                      next_in.to_string() + ")");
  }
  if (m.orchestrator_data_in) {
    const Endpoint& last_out = m.stages.back().endpoint.data_out;
    if (m.orchestrator_data_in->kind != Endpoint::Kind::kTcp ||
        !same_tcp_address(last_out, *m.orchestrator_data_in))
      return fail(error, ErrorCode::PIPELINE_CHAIN_BROKEN,
                  endpoint_path(m.stages.size() - 1, "data_out") + ".addr",
                  last_out.to_string() + " is not the orchestrator's data_in (" +
                      m.orchestrator_data_in->to_string() + ")");
  }
  return Status::Ok();
}

Status check_extensions(const Manifest& m, ManifestError* error) {
  if (m.platform == Platform::kNitro && !m.uses_vsock())
    return fail(error, ErrorCode::PIPELINE_BAD_MANIFEST, "$.platform",
                "platform \"nitro\" needs vsock stage endpoints (enclaves have no network)");
  if (m.platform == Platform::kSevSnp && m.uses_vsock())
    return fail(error, ErrorCode::PIPELINE_BAD_MANIFEST, "$.platform",
                "platform \"sev-snp\" needs tcp stage endpoints");
  if (m.require_weight_hashes) {
    for (size_t i = 0; i < m.stages.size(); ++i) {
      if (m.stages[i].weight_hashes.empty())
        return fail(error, ErrorCode::PIPELINE_BAD_MANIFEST, stage_path(i) + ".weight_hashes",
                    "require_weight_hashes is set but the stage pins no weight hash");
    }
  }
  return Status::Ok();
}

Status check_model(const Manifest& m, const ModelShape& model, ManifestError* error) {
  if (int64_t(m.total_layers) != model.n_layer)
    return fail(error, ErrorCode::PIPELINE_MODEL_MISMATCH, "$.total_layers",
                cat("total_layers ", num(m.total_layers), " but the model has n_layer ",
                    std::to_string(model.n_layer)));
  if (int64_t(m.activation_spec.hidden_dim) != model.n_embd)
    return fail(error, ErrorCode::PIPELINE_MODEL_MISMATCH, "$.activation_spec.hidden_dim",
                cat("hidden_dim ", num(m.activation_spec.hidden_dim), " but the model has n_embd ",
                    std::to_string(model.n_embd)));
  if (int64_t(m.activation_spec.max_seq_len) > model.n_positions)
    return fail(error, ErrorCode::PIPELINE_MODEL_MISMATCH, "$.activation_spec.max_seq_len",
                cat("max_seq_len ", num(m.activation_spec.max_seq_len),
                    " exceeds the model's n_positions ", std::to_string(model.n_positions)));
  return Status::Ok();
}

}  // namespace

Status validate_manifest(const Manifest& m, const ValidateOptions& options, ManifestError* error) {
  if (m.stages.empty())
    return fail(error, ErrorCode::PIPELINE_BAD_MANIFEST, "$.stages", "must not be empty");
  for (size_t i = 0; i < m.stages.size(); ++i) {
    if (m.stages[i].stage_idx != i)
      return fail(error, ErrorCode::PIPELINE_BAD_MANIFEST, stage_path(i) + ".stage_idx",
                  cat("stage_idx ", num(m.stages[i].stage_idx), " but expected ", num(i),
                      " (stages are listed in order 0..n-1)"));
  }
  CPIPE_RETURN_IF_ERROR(check_layers(m, error));
  CPIPE_RETURN_IF_ERROR(check_endpoints(m, error));
  CPIPE_RETURN_IF_ERROR(check_listeners(m, error));
  CPIPE_RETURN_IF_ERROR(check_chain(m, error));
  CPIPE_RETURN_IF_ERROR(check_extensions(m, error));
  if (options.model) CPIPE_RETURN_IF_ERROR(check_model(m, *options.model, error));
  return Status::Ok();
}

}  // namespace cpipe::pipeline
