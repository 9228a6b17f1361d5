// Measurement pins and platform rules for pipeline peers (peer_policy.h).
#include "core/pipeline/peer_policy.h"

#include "core/crypto/hash.h"

namespace cpipe::pipeline {

Status check_stage_evidence(const Manifest& manifest, const StageSpec& stage,
                            const runtime::VerifiedEvidence& evidence) {
  std::string who = "stage " + std::to_string(stage.stage_idx);
  if (evidence.development_only && manifest.platform &&
      (*manifest.platform == Platform::kNitro || *manifest.platform == Platform::kSevSnp))
    return make_error(ErrorCode::ATTEST_POLICY_VIOLATION,
                      who + " presented development-only evidence but the manifest requires " +
                          std::string(platform_name(*manifest.platform)));
  for (const auto& [name, want_hex] : stage.expected_measurements) {
    auto it = evidence.measurements.find(name);
    if (it == evidence.measurements.end())
      return make_error(ErrorCode::ATTEST_MEASUREMENT_MISMATCH,
                        who + ": evidence has no " + name + " but the manifest pins it");
    std::string got = hex_encode(it->second);
    if (got != want_hex)
      return make_error(ErrorCode::ATTEST_MEASUREMENT_MISMATCH,
                        who + ": " + name + " is " + got + ", the manifest pins " + want_hex);
  }
  return Status::Ok();
}

Bytes manifest_hash(const Manifest& manifest) {
  return crypto::sha256(as_bytes(manifest.to_json()));
}

}  // namespace cpipe::pipeline
