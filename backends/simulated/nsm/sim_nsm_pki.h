// The simulated Nitro PKI: a root and three CA levels (like AWS's root -> regional -> zonal ->
// instance) plus per-document leaf certificates, all P-384, all derived from a seed. Nothing
// here draws OS randomness: private scalars come from SHA-384 of the seed, and every ECDSA
// signature (certificates and COSE) uses a nonce stream derived from the key and the message,
// so the same seed and inputs give byte-identical certificates and documents.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/base/bytes.h"
#include "core/base/status.h"
#include "core/runtime/random.h"

namespace cpipe::sim {

// A P-384 key: the 48-byte scalar and its uncompressed point.
struct SimP384Key {
  Bytes private_scalar;
  Bytes public_point;
};

// Scalar = SHA-384("cpipe.simnsm.key" || label || seed || counter), the first counter that
// gives 1 <= d < n.
Result<SimP384Key> derive_p384_key(ByteSpan seed, std::string_view label);

// ECDSA P-384/SHA-384 with a per-(key, message) deterministic nonce stream (like RFC 6979 in
// spirit, not its exact construction). Returns raw r||s.
Result<Bytes> sim_p384_sign(const SimP384Key& key, ByteSpan message);

struct SimCertSpec {
  std::string common_name;
  std::string organization = "cpipe simulated Nitro";
  int64_t not_before_ms = 0;
  int64_t not_after_ms = 0;
  bool is_ca = false;
  int path_len = -1;    // CA path length constraint; -1: none
  Bytes serial;         // big-endian, positive
};

// A DER X.509 v3 certificate for `subject_key`, signed by `issuer_key` (ecdsa-with-SHA384).
// `issuer_der` is empty for a self-signed root.
Result<Bytes> make_sim_certificate(const SimCertSpec& spec, const SimP384Key& subject_key,
                                   const SimP384Key& issuer_key, ByteSpan issuer_der);

// The CA part of the simulated PKI: cabundle order (root first).
struct SimNitroPki {
  std::vector<SimP384Key> ca_keys;  // root, regional, zonal, instance
  std::vector<Bytes> cabundle;      // their certificates, root first
  SimP384Key leaf_key;              // the enclave's signing key
};

// PEM text of a DER certificate (to hand a simulated root to `cpipe attest verify --root`).
Result<std::string> certificate_der_to_pem(ByteSpan der);

// Root and CA certificates valid [not_before_ms, not_after_ms].
Result<SimNitroPki> make_sim_nitro_pki(ByteSpan seed, int64_t not_before_ms, int64_t not_after_ms);

}  // namespace cpipe::sim
