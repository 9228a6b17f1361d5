// What the pipeline requires of the enclaves at the other end of its channels, beyond what the
// attestation verifier already checked (signature, chain, freshness, platform policy): the
// measurements the manifest pins for that stage, and no development-only evidence when the
// manifest names a real platform. Also the manifest hash both sides agree on at init.
#pragma once

#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/pipeline/manifest.h"
#include "core/runtime/attestation.h"

namespace cpipe::pipeline {

// ATTEST_MEASUREMENT_MISMATCH naming the first pinned measurement that is missing or differs;
// ATTEST_POLICY_VIOLATION for mock-dev evidence under platform nitro or sev-snp.
Status check_stage_evidence(const Manifest& manifest, const StageSpec& stage,
                            const runtime::VerifiedEvidence& evidence);

// SHA-256 of manifest.to_json(): what orchestrator and stages compare at init, so both run the
// same layer split, endpoints and pins.
Bytes manifest_hash(const Manifest& manifest);

}  // namespace cpipe::pipeline
