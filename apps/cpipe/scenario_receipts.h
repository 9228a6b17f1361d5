// The receipts_verify scenario invariant: every successful request's AIR v1 receipt verifies
// against the attestation evidence of a stage 0 boot of the same run (simulated Nitro root
// pinned), names the sealed model, and hashes exactly the prompt sent and the tokens returned.
#pragma once

#include <vector>

#include "apps/cpipe/sim_pipeline_session.h"
#include "core/base/status.h"
#include "core/receipt/key_binding.h"

namespace cpipe::cli {

// Stage 0's signing boots of the run, each through the real Nitro verifier (error: a boot's
// evidence does not verify, which no receipt can then rely on).
Result<std::vector<receipt::BoundEvidence>> receipt_signer_evidence(const SimPipelineReport& report);

// OK, or why the request's receipt fails (the failed check's code and name).
Status check_request_receipt(const SimPipelineReport& report, const std::vector<receipt::BoundEvidence>& signers,
                             const SimWorkItem& item, const SimPipelineRequest& request);

}  // namespace cpipe::cli
