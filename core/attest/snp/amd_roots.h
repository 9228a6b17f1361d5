// The AMD root (ARK) and signing (ASK) certificates of each SEV-SNP product, built in so that a
// verifier needs no network and no files: the ARK is the pinned trust anchor of its product.
// Source: AMD KDS (https://kdsintf.amd.com/vcek/v1/<product>/cert_chain), as recorded in
// shared/data/sev-snp/amd-kds; tests check the constants against those files byte for byte.
#pragma once

#include <string_view>

#include "core/attest/snp/snp_report.h"

namespace cpipe::attest::snp {

// PEM text; empty for Product::kUnknown.
std::string_view builtin_ark_pem(Product p);
std::string_view builtin_ask_pem(Product p);

}  // namespace cpipe::attest::snp
