// libFuzzer target: the SEV-SNP report parser, the Azure HCL parser and the extended-report
// certificate table parser on arbitrary bytes; whatever parses is summarised to JSON too.
#include <cstddef>
#include <cstdint>

#include "core/attest/snp/hcl_report.h"
#include "core/attest/snp/snp_attestation_verifier.h"
#include "core/attest/snp/snp_report.h"
#include "core/attest/snp/snp_verifier.h"

using namespace cpipe::attest::snp;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cpipe::ByteSpan in(data, size);
  auto summarize = [](Report r) {
    SnpVerification v;
    v.platform = "sev-snp";
    v.product = Product::kTurin;  // exercises the fmc layout too
    v.reported_tcb = decode_tcb(r.reported_tcb, v.product);
    v.report = std::move(r);
    (void)to_json(v).dump();
  };
  if (auto r = parse_report(in); r.ok()) summarize(std::move(*r));
  if (auto h = parse_hcl_report(in); h.ok()) {
    (void)hcl_runtime_data_hash(*h);
    if (auto r = parse_report(h->snp_report); r.ok()) summarize(std::move(*r));
  }
  if (auto e = parse_extended_report(in); e.ok()) {
    if (auto r = parse_report(e->report); r.ok()) summarize(std::move(*r));
  }
  return 0;
}
