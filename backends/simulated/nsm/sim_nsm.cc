// SimNsm: documents in real NSM layout, signed deterministically.
#include "backends/simulated/nsm/sim_nsm.h"

#include "core/attest/nitro/nitro_document.h"
#include "core/codec/cbor/cbor_encode.h"
#include "core/codec/cbor/cose_sign1.h"
#include "core/crypto/hash.h"

namespace cpipe::sim {
namespace {

Bytes extend_once(const Bytes& component) {
  if (component.empty()) return Bytes(48, 0);
  Bytes in(48, 0);
  Bytes h = crypto::sha384(component);
  in.insert(in.end(), h.begin(), h.end());
  return crypto::sha384(in);
}

}  // namespace

std::map<uint32_t, Bytes> sim_enclave_pcrs(const SimEnclaveImage& image) {
  std::map<uint32_t, Bytes> pcrs;
  for (uint32_t i = 0; i < 16; ++i) pcrs[i] = Bytes(48, 0);
  if (!image.debug) {
    pcrs[0] = extend_once(image.eif);
    pcrs[1] = extend_once(image.kernel);
    pcrs[2] = extend_once(image.application);
  }
  pcrs[3] = extend_once(image.iam_role);
  pcrs[4] = extend_once(image.instance_id);
  pcrs[8] = extend_once(image.signing_cert);
  return pcrs;
}

Result<std::unique_ptr<SimNsm>> SimNsm::create(runtime::Clock& clock, SimNsmConfig config) {
  if (config.seed.empty()) return make_error(ErrorCode::INVALID_ARGUMENT, "SimNsm needs a seed");
  CPIPE_ASSIGN_OR_RETURN(SimNitroPki pki,
                         make_sim_nitro_pki(config.seed, config.ca_not_before_ms, config.ca_not_after_ms));
  return std::unique_ptr<SimNsm>(new SimNsm(clock, std::move(config), std::move(pki)));
}

SimNsm::SimNsm(runtime::Clock& clock, SimNsmConfig config, SimNitroPki pki)
    : clock_(clock), config_(std::move(config)), pki_(std::move(pki)), pcrs_(sim_enclave_pcrs(config_.image)) {}

Result<Bytes> SimNsm::make_document(const runtime::AttestationRequest& request, int64_t now_unix_ms) const {
  using attest::nitro::kNitroMaxOptionalSize;
  if (request.public_key.size() > kNitroMaxOptionalSize || request.user_data.size() > kNitroMaxOptionalSize ||
      request.nonce.size() > kNitroMaxOptionalSize) {
    return make_error(ErrorCode::INVALID_ARGUMENT, "NSM request field longer than 1024 bytes");
  }
  // Leaf: issued at the request, valid for leaf_lifetime_ms (the real NSM's leaf is minted
  // seconds before the document and lives about 3 hours).
  SimCertSpec leaf;
  leaf.common_name = config_.module_id + ".sim.nitro-enclaves";
  leaf.not_before_ms = (now_unix_ms / 1000) * 1000;
  leaf.not_after_ms = leaf.not_before_ms + config_.leaf_lifetime_ms;
  // One leaf per module and second (the serial names the second, not the millisecond): the
  // same certificate for every document of that second, so its P-384 signature (and the
  // verifier's chain check, nitro_chain_cache.h) is made once, not per handshake.
  Bytes serial = crypto::sha256(to_bytes("leaf" + std::to_string(leaf.not_before_ms) + config_.module_id));
  serial.resize(16);
  serial[0] = (serial[0] & 0x7f) | 0x01;
  leaf.serial = serial;
  CPIPE_ASSIGN_OR_RETURN(Bytes leaf_der,
                         make_sim_certificate(leaf, pki_.leaf_key, pki_.ca_keys.back(), pki_.cabundle.back()));

  attest::nitro::NitroDocument doc;
  doc.module_id = config_.module_id;
  doc.digest = "SHA384";
  doc.timestamp_ms = uint64_t(now_unix_ms);
  doc.pcrs = pcrs_;
  doc.certificate = std::move(leaf_der);
  doc.cabundle = pki_.cabundle;
  if (!request.public_key.empty()) doc.public_key = request.public_key;
  if (!request.user_data.empty()) doc.user_data = request.user_data;
  if (!request.nonce.empty()) doc.nonce = request.nonce;

  codec::CoseSign1 msg;
  msg.tagged = false;  // the NSM emits untagged COSE_Sign1
  Bytes protected_header;
  codec::CborWriter w(protected_header);
  w.map_header(1);
  w.integer(codec::kCoseHeaderAlg);
  w.integer(codec::kCoseAlgES384);
  msg.protected_bytes = protected_header;
  msg.unprotected_header = codec::CborValue::map({});
  msg.payload = attest::nitro::encode_nitro_document(doc);
  Bytes tbs = codec::cose_sig_structure1(msg.protected_bytes, {}, msg.payload);
  CPIPE_ASSIGN_OR_RETURN(msg.signature, sim_p384_sign(pki_.leaf_key, tbs));
  return codec::cose_sign1_encode(msg);
}

runtime::Task<Result<runtime::Evidence>> SimNsm::attest(runtime::AttestationRequest request) {
  co_await runtime::sleep_for(clock_, config_.latency);
  const int64_t now = clock_.wall_now().unix_ms();
  auto doc = make_document(request, now);
  if (!doc.ok()) co_return doc.status();
  co_return runtime::Evidence{kPlatform, std::move(*doc)};
}

}  // namespace cpipe::sim
