// The SEV-SNP report parser on the real reports: field values, versions, and the strict
// reserved-field and padding checks.
#include <gtest/gtest.h>

#include "core/attest/snp/hcl_report.h"
#include "core/attest/snp/snp_report.h"
#include "tests/attest/snp_test_util.h"

namespace cpipe::attest::snp {
namespace {

using testing_snp::read_file;

TEST(SnpReport, ParsesVirteeReportFields) {
  Bytes raw = read_file("reports/milan-v2-virtee.report");
  auto r = parse_report(raw);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->version, 2u);
  EXPECT_EQ(r->policy.raw, 0x30000u);
  EXPECT_TRUE(r->policy.smt);
  EXPECT_FALSE(r->policy.debug);
  EXPECT_EQ(r->vmpl, 0u);
  EXPECT_EQ(r->signing_key, SigningKey::kVcek);
  EXPECT_EQ(hex_encode(r->measurement), testing_snp::kVirteeMeasurement);
  TcbVersion tcb = decode_tcb(r->reported_tcb, Product::kMilan);
  EXPECT_EQ(tcb.bootloader, 3);
  EXPECT_EQ(tcb.tee, 0);
  EXPECT_EQ(tcb.snp, 8);
  EXPECT_EQ(tcb.microcode, 115);
  EXPECT_FALSE(tcb.fmc.has_value());
  EXPECT_FALSE(r->cpuid_fam_id.has_value());  // version 2 has no CPUID fields
  // r and s land big-endian: the last byte of r is the first little-endian byte at 0x2A0.
  EXPECT_EQ(r->signature_p1363[47], raw[0x2A0]);
  EXPECT_EQ(r->signature_p1363[0], raw[0x2A0 + 47]);
  EXPECT_EQ(r->signature_p1363[95], raw[0x2E8]);
}

TEST(SnpReport, ParsesGoSevGuestReportAsDebugPolicy) {
  auto r = parse_report(read_file("reports/milan-v2-gosevguest.report"));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->policy.raw, 0xb0000u);
  EXPECT_TRUE(r->policy.debug);
  EXPECT_EQ(hex_encode(ByteSpan(r->report_data).first(5)), "0102030405");
}

TEST(SnpReport, RejectsWrongSizes) {
  Bytes raw = read_file("reports/milan-v2-virtee.report");
  for (size_t n : {size_t(0), size_t(1), size_t(0x2A0), kReportSize - 1}) {
    EXPECT_EQ(parse_report(ByteSpan(raw).first(n)).code(), ErrorCode::ATTEST_BAD_FORMAT) << n;
  }
  Bytes longer = raw;
  longer.push_back(0);
  EXPECT_EQ(parse_report(longer).code(), ErrorCode::ATTEST_BAD_FORMAT);
}

TEST(SnpReport, VersionsTwoToFiveAcceptedOthersRejected) {
  Bytes raw = read_file("reports/milan-v2-virtee.report");
  for (uint32_t v : {0u, 1u, 6u, 0xffffffffu}) {
    Bytes m = raw;
    store_u32_le(m.data(), v);
    EXPECT_EQ(parse_report(m).code(), ErrorCode::ATTEST_BAD_FORMAT) << v;
  }
  Bytes v3 = raw;
  store_u32_le(v3.data(), 3);
  v3[0x188] = 0x19;  // family
  v3[0x189] = 0x01;  // model
  v3[0x18A] = 0x01;  // stepping
  auto r3 = parse_report(v3);
  ASSERT_TRUE(r3.ok()) << r3.status().to_string();
  EXPECT_EQ(*r3->cpuid_fam_id, 0x19);
  EXPECT_EQ(*r3->cpuid_mod_id, 0x01);
  EXPECT_EQ(*r3->cpuid_step, 0x01);
  EXPECT_FALSE(r3->launch_mit_vector.has_value());
  // In a v2 report the CPUID bytes are reserved.
  Bytes v2 = raw;
  v2[0x188] = 0x19;
  EXPECT_EQ(parse_report(v2).code(), ErrorCode::ATTEST_BAD_FORMAT);
  // Version 5 adds the mitigation vectors at 0x1F8 / 0x200; in v3 they are reserved.
  Bytes v5 = v3;
  store_u32_le(v5.data(), 5);
  store_u64_le(v5.data() + 0x1F8, 0x5);
  store_u64_le(v5.data() + 0x200, 0x7);
  auto r5 = parse_report(v5);
  ASSERT_TRUE(r5.ok()) << r5.status().to_string();
  EXPECT_EQ(*r5->launch_mit_vector, 0x5u);
  EXPECT_EQ(*r5->current_mit_vector, 0x7u);
  Bytes v3mit = v3;
  store_u64_le(v3mit.data() + 0x1F8, 0x5);
  EXPECT_EQ(parse_report(v3mit).code(), ErrorCode::ATTEST_BAD_FORMAT);
  Bytes v5res = v5;
  v5res[0x208] = 1;
  EXPECT_EQ(parse_report(v5res).code(), ErrorCode::ATTEST_BAD_FORMAT);
}

TEST(SnpReport, EveryReservedByteIsMustBeZero) {
  Bytes raw = read_file("reports/milan-v2-virtee.report");
  struct Range {
    size_t lo, hi;
  };
  // v2: 0x4C..0x50, 0x188..0x1A0, 0x1EB, 0x1EF, 0x1F8..0x2A0, r/s padding, 0x330..0x4A0.
  for (Range g : {Range{0x4C, 0x50}, Range{0x188, 0x1A0}, Range{0x1EB, 0x1EC}, Range{0x1EF, 0x1F0},
                  Range{0x1F8, 0x2A0}, Range{0x2A0 + 48, 0x2E8}, Range{0x2E8 + 48, 0x330},
                  Range{0x330, 0x4A0}}) {
    for (size_t i = g.lo; i < g.hi; ++i) {
      Bytes m = raw;
      m[i] ^= 0x01;
      EXPECT_EQ(parse_report(m).code(), ErrorCode::ATTEST_BAD_FORMAT) << "offset " << i;
    }
  }
}

TEST(SnpReport, StructuredFieldsAreChecked) {
  Bytes raw = read_file("reports/milan-v2-virtee.report");
  auto with = [&](auto edit) {
    Bytes m = raw;
    edit(m);
    return parse_report(m).code();
  };
  EXPECT_EQ(with([](Bytes& m) { store_u32_le(m.data() + 0x34, 2); }), ErrorCode::ATTEST_BAD_ALG);
  EXPECT_EQ(with([](Bytes& m) { store_u32_le(m.data() + 0x34, 0); }), ErrorCode::ATTEST_BAD_ALG);
  EXPECT_EQ(with([](Bytes& m) { m[0x0A] &= ~0x02; }), ErrorCode::ATTEST_BAD_FORMAT);  // policy bit 17
  EXPECT_EQ(with([](Bytes& m) { m[0x0B] |= 0x04; }), ErrorCode::ATTEST_BAD_FORMAT);   // policy bit 26
  EXPECT_EQ(with([](Bytes& m) { m[0x0F] = 0x80; }), ErrorCode::ATTEST_BAD_FORMAT);    // policy bit 63
  EXPECT_EQ(with([](Bytes& m) { store_u32_le(m.data() + 0x30, 4); }), ErrorCode::ATTEST_BAD_FORMAT);  // vmpl
  EXPECT_EQ(with([](Bytes& m) { m[0x40] |= 0x40; }), ErrorCode::ATTEST_BAD_FORMAT);   // platform_info bit 6
  EXPECT_EQ(with([](Bytes& m) { m[0x41] = 1; }), ErrorCode::ATTEST_BAD_FORMAT);       // platform_info bit 8
  EXPECT_EQ(with([](Bytes& m) { m[0x48] = 2 << 2; }), ErrorCode::ATTEST_BAD_FORMAT);  // signing_key 2
  EXPECT_EQ(with([](Bytes& m) { m[0x48] = 0x20; }), ErrorCode::ATTEST_BAD_FORMAT);    // signer bit 5
  // MASK_CHIP_KEY with a nonzero chip_id is contradictory.
  EXPECT_EQ(with([](Bytes& m) { m[0x48] = 0x02; }), ErrorCode::ATTEST_BAD_FORMAT);
  EXPECT_EQ(with([](Bytes& m) { m[0x48] = 7 << 2; }), ErrorCode::OK);  // "no signature": the verifier rejects it
}

TEST(SnpTcb, DecodesMilanAndTurinLayouts) {
  uint64_t raw = 0x7300000000000203ull;  // ucode 0x73, byte 1 = 2, byte 0 = 3
  raw |= uint64_t(8) << 48;
  TcbVersion milan = decode_tcb(raw, Product::kMilan);
  EXPECT_EQ(milan.bootloader, 3);
  EXPECT_EQ(milan.tee, 2);
  EXPECT_EQ(milan.snp, 8);
  EXPECT_EQ(milan.microcode, 0x73);
  uint64_t turin_raw = 0x4400000004030201ull;
  TcbVersion turin = decode_tcb(turin_raw, Product::kTurin);
  EXPECT_EQ(*turin.fmc, 1);
  EXPECT_EQ(turin.bootloader, 2);
  EXPECT_EQ(turin.tee, 3);
  EXPECT_EQ(turin.snp, 4);
  EXPECT_EQ(turin.microcode, 0x44);
  TcbVersion min = milan;
  EXPECT_TRUE(tcb_at_least(milan, min));
  min.snp = 9;
  EXPECT_FALSE(tcb_at_least(milan, min));
}

TEST(HclReport, ParsesAzureLayout) {
  Bytes raw = read_file("reports/azure-milan-hcl.bin");
  auto h = parse_hcl_report(raw);
  ASSERT_TRUE(h.ok()) << h.status().to_string();
  EXPECT_EQ(h->report_size, 2346u);
  EXPECT_EQ(h->report_type, 2u);
  EXPECT_EQ(h->hash_type, HclHashType::kSha256);
  EXPECT_EQ(h->runtime_data.size(), 1110u);
  EXPECT_EQ(h->runtime_data.front(), '{');
  EXPECT_EQ(h->runtime_data.back(), '}');
  EXPECT_EQ(h->snp_report.data(), raw.data() + 32);
  auto report = parse_report(h->snp_report);
  ASSERT_TRUE(report.ok()) << report.status().to_string();
  Bytes hash = hcl_runtime_data_hash(*h);
  EXPECT_TRUE(std::equal(hash.begin(), hash.end(), report->report_data.begin()));
}

TEST(HclReport, RejectsMalformedHeadersAndSizes) {
  Bytes raw = read_file("reports/azure-milan-hcl.bin");
  auto code = [](const Bytes& b) { return parse_hcl_report(b).code(); };
  auto edit = [&](size_t off, uint32_t v) {
    Bytes m = raw;
    store_u32_le(m.data() + off, v);
    return m;
  };
  EXPECT_EQ(code(edit(0, 0x41434C48)), ErrorCode::ATTEST_BAD_FORMAT);           // signature
  EXPECT_EQ(code(edit(8, 2345)), ErrorCode::ATTEST_BAD_FORMAT);                 // report_size
  EXPECT_EQ(code(edit(8, 0xffffffff)), ErrorCode::ATTEST_BAD_FORMAT);
  EXPECT_EQ(code(edit(24, 1)), ErrorCode::ATTEST_BAD_FORMAT);                   // reserved
  EXPECT_EQ(code(edit(0x4C0, 1129)), ErrorCode::ATTEST_BAD_FORMAT);             // data_size
  EXPECT_EQ(code(edit(0x4C0 + 8, 3)), ErrorCode::ATTEST_BAD_FORMAT);            // report type TVM
  EXPECT_EQ(code(edit(0x4C0 + 12, 4)), ErrorCode::ATTEST_BAD_FORMAT);           // hash type
  EXPECT_EQ(code(edit(0x4C0 + 16, 0xfffffff0)), ErrorCode::ATTEST_BAD_FORMAT);  // var size
  // Truncated anywhere before the end of the runtime data.
  for (size_t n : {size_t(0), size_t(31), size_t(1216), size_t(1235), size_t(2345)}) {
    EXPECT_EQ(code(Bytes(raw.begin(), raw.begin() + n)), ErrorCode::ATTEST_BAD_FORMAT) << n;
  }
  // Zero padding after report_size is the NV index's; anything else is not.
  EXPECT_TRUE(parse_hcl_report(ByteSpan(raw).first(2346)).ok());
  Bytes padded = raw;
  padded.push_back(0);
  EXPECT_TRUE(parse_hcl_report(padded).ok());
  Bytes extended = raw;
  extended.push_back(1);
  EXPECT_EQ(code(extended), ErrorCode::ATTEST_BAD_FORMAT);
}

}  // namespace
}  // namespace cpipe::attest::snp
