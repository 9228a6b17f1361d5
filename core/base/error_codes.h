// The stable error codes of cpipe: one X-macro list, so that the enum, the names printed in
// logs/JSON and docs/errors.md cannot drift apart. Numbers and names are a public contract:
// never renumber or reuse one; append new codes inside their area's range.
#pragma once

// X(NAME, number, "one-line meaning")
#define CPIPE_ERROR_CODES(X)                                                                   \
  /* 0: success */                                                                             \
  X(OK, 0, "success")                                                                          \
  /* 1-99: generic */                                                                          \
  X(INVALID_ARGUMENT, 1, "a caller-supplied argument is malformed or out of range")            \
  X(NOT_FOUND, 2, "a named thing does not exist")                                              \
  X(ALREADY_EXISTS, 3, "a thing that must be unique already exists")                           \
  X(OUT_OF_RANGE, 4, "an index or size is outside the valid range")                            \
  X(RESOURCE_EXHAUSTED, 5, "a configured limit (sessions, memory, queue) is reached")          \
  X(DEADLINE_EXCEEDED, 6, "an operation did not finish before its deadline")                   \
  X(CANCELLED, 7, "the operation was cancelled (its object was closed or destroyed)")          \
  X(UNAVAILABLE, 8, "a service is temporarily unavailable; retrying may succeed")              \
  X(INTERNAL, 9, "an invariant was broken inside cpipe (a bug)")                               \
  X(NOT_SUPPORTED, 10, "the feature is not supported by this build or backend")                \
  X(FAILED_PRECONDITION, 11, "the system is not in the state the operation needs")             \
  X(IO_ERROR, 12, "the operating system reported an I/O error")                                \
  X(PARSE_ERROR, 13, "a text or JSON input could not be parsed")                               \
  /* 100-199: transport */                                                                     \
  X(TRANSPORT_REFUSED, 100, "the peer refused the connection (nothing listens there)")         \
  X(TRANSPORT_RESET, 101, "the connection was reset by the peer or the network")               \
  X(TRANSPORT_TIMEOUT, 102, "connect or read did not complete within its timeout")             \
  X(TRANSPORT_CLOSED, 103, "the stream is closed (peer sent EOF, or closed locally)")          \
  X(TRANSPORT_BAD_ENDPOINT, 104, "an endpoint string is not tcp:HOST:PORT or vsock:CID:PORT")  \
  X(TRANSPORT_ADDRESS_IN_USE, 105, "something already listens on this endpoint")               \
  X(TRANSPORT_UNREACHABLE, 106, "no route to the endpoint (unknown host or partition)")        \
  /* 200-299: crypto */                                                                        \
  X(CRYPTO_FAILURE, 200, "a cryptographic library call failed unexpectedly")                   \
  X(CRYPTO_BAD_KEY, 201, "a key has the wrong size or is not a valid point/encoding")          \
  X(CRYPTO_AUTH_FAILED, 202, "AEAD authentication failed (tag mismatch)")                      \
  X(CRYPTO_BAD_SIGNATURE, 203, "a signature does not verify")                                  \
  X(CRYPTO_WEAK_KEY, 204, "a key agreement produced an all-zero (low-order) shared secret")     \
  /* 300-399: secure channel */                                                                \
  X(CHANNEL_BAD_TAG, 300, "a record failed AEAD authentication; the channel is closed")        \
  X(CHANNEL_SEQUENCE_GAP, 301, "a record's sequence number skips ahead (a record was dropped)") \
  X(CHANNEL_REPLAY, 302, "a record's sequence number was already seen (replay or duplicate)")  \
  X(CHANNEL_OVERSIZE, 303, "a frame length exceeds the 32 MiB maximum")                        \
  X(CHANNEL_UNKNOWN_TYPE, 304, "a record or handshake message has an unknown type")            \
  X(CHANNEL_BAD_FLAGS, 305, "a record carries flags or reserved bits that must be zero")       \
  X(CHANNEL_CLOSED, 306, "the channel was closed earlier (by a failure or by either side)")    \
  X(CHANNEL_HANDSHAKE_TIMEOUT, 307, "the handshake did not complete in time")                  \
  X(CHANNEL_BAD_MESSAGE, 308, "a handshake message is malformed")                              \
  X(CHANNEL_VERSION_MISMATCH, 309, "the peer speaks another protocol version")                 \
  X(CHANNEL_CONFIRM_FAILED, 310, "key confirmation failed (transcripts differ)")               \
  X(CHANNEL_TRUNCATED, 311, "the stream ended inside a frame")                                 \
  X(CHANNEL_ATTESTATION_REJECTED, 312, "the peer's attestation evidence did not verify")       \
  X(CHANNEL_BINDING_MISMATCH, 313, "the peer's evidence binds another key or transcript")      \
  X(CHANNEL_REKEY_REQUIRED, 314, "the key's record or time budget is spent and no rekey came") \
  X(CHANNEL_BAD_TENSOR, 315, "a tensor frame is malformed")                                    \
  X(CHANNEL_PEER_CLOSED, 316, "the peer closed the channel with a close record")               \
  X(CHANNEL_WEAK_KEY, 317, "the peer's ephemeral key is low-order (all-zero shared secret)")  \
  /* 400-499: attestation */                                                                   \
  X(ATTEST_BAD_FORMAT, 400, "evidence is not well-formed for its platform")                    \
  X(ATTEST_BAD_ALG, 401, "evidence uses an algorithm other than the platform's")               \
  X(ATTEST_SIGNATURE_INVALID, 402, "the evidence signature does not verify")                   \
  X(ATTEST_CHAIN_INVALID, 403, "the certificate chain does not lead to the pinned root")       \
  X(ATTEST_CERT_EXPIRED, 404, "a certificate is not valid at the verification time")           \
  X(ATTEST_NO_TIME, 405, "no verification time was supplied (verifiers never read a clock)")   \
  X(ATTEST_STALE, 406, "the evidence is older than the freshness window, or from the future")  \
  X(ATTEST_MEASUREMENT_MISMATCH, 407, "a measurement (PCR, SNP measurement) is not pinned")    \
  X(ATTEST_DEBUG_NOT_ALLOWED, 408, "debug-mode evidence and the policy forbids debug")         \
  X(ATTEST_BINDING_MISMATCH, 409, "public_key/user_data/nonce differ from what is expected")   \
  X(ATTEST_TCB_MISMATCH, 410, "reported TCB differs from the certificate or is below minimum") \
  X(ATTEST_POLICY_VIOLATION, 411, "the evidence violates the verification policy")            \
  X(ATTEST_PROVIDER_FAILED, 412, "the attestation device failed to produce evidence")          \
  X(ATTEST_REVOKED, 413, "a certificate in the chain is revoked")                              \
  /* 500-599: codecs */                                                                        \
  X(CODEC_TRUNCATED, 500, "input ends before the structure is complete")                       \
  X(CODEC_BAD_FORMAT, 501, "input is not of the expected format")                              \
  X(CODEC_LIMIT_EXCEEDED, 502, "input exceeds a size, depth or count limit")                   \
  X(CODEC_TRAILING_DATA, 503, "bytes remain after the structure")                              \
  /* 600-699: model */                                                                         \
  X(MODEL_BAD_FILE, 600, "a model file is malformed")                                          \
  X(MODEL_MISSING_TENSOR, 601, "a required tensor is missing from the model")                  \
  X(MODEL_SHAPE_MISMATCH, 602, "a tensor's shape or dtype does not match the config")          \
  X(MODEL_BAD_CONFIG, 603, "the model config is malformed or unsupported")                     \
  X(MODEL_CONTEXT_OVERFLOW, 604, "the sequence exceeds the model's context length")            \
  X(MODEL_BAD_TOKENIZER, 605, "tokenizer files are malformed")                                 \
  /* 700-799: pipeline */                                                                      \
  X(PIPELINE_BAD_MANIFEST, 700, "the pipeline manifest is invalid")                            \
  X(PIPELINE_STAGE_FAILED, 701, "a pipeline stage failed or died")                             \
  X(PIPELINE_PROTOCOL_ERROR, 702, "a pipeline control or data message is unexpected")          \
  X(PIPELINE_LAYER_GAP, 703, "the stages leave a layer unassigned (between ranges or at an end)") \
  X(PIPELINE_LAYER_OVERLAP, 704, "two stages' layer ranges overlap")                           \
  X(PIPELINE_LAYER_RANGE, 705, "a stage's layer range is empty or outside [0, total_layers)")  \
  X(PIPELINE_BAD_ENDPOINT, 706, "a manifest endpoint is malformed (type, address, port or cid)") \
  X(PIPELINE_DUPLICATE_LISTENER, 707, "two manifest listeners would bind the same address")    \
  X(PIPELINE_CHAIN_BROKEN, 708, "a stage's data_out does not lead to the next stage's data_in") \
  X(PIPELINE_MODEL_MISMATCH, 709, "the manifest disagrees with the model (layers, width, context)") \
  X(PIPELINE_WEIGHT_HASH_MISMATCH, 710, "a stage's weights do not hash to its manifest weight_hashes") \
  X(PIPELINE_PROXY_NOT_ALLOWED, 711, "a host proxy route's upstream is not on the proxy's allow-list") \
  X(PIPELINE_RETRY_DIVERGED, 712, "a retried request replayed to a different token than before (never returned as output)") \
  /* 800-899: keys and model delivery */                                                       \
  X(KEYS_ACCESS_DENIED, 800, "the key service denied the key release")                         \
  X(KEYS_SEALED_MODEL_INVALID, 801, "a sealed model chunk or header failed verification")      \
  X(KEYS_CHUNK_AUTH_FAILED, 802, "a sealed model chunk failed authentication (tampered, moved, spliced)") \
  X(KEYS_TRUNCATED, 803, "a sealed model ended before its last chunk")                         \
  X(KEYS_TRAILING_DATA, 804, "a sealed model has bytes or chunks after its last chunk")        \
  X(KEYS_MANIFEST_MISMATCH, 805, "sealed model contents differ from its manifest (names/sizes/hashes)") \
  X(KEYS_UNWRAP_FAILED, 806, "the wrapped data key did not unwrap (wrong key, or tampered)")     \
  X(KEYS_THROTTLED, 807, "the key service throttled the request; retry with backoff")          \
  X(KEYS_KMS_INTERNAL, 808, "the key service reported an internal error; retrying may succeed") \
  X(KEYS_VALIDATION, 809, "the key service rejected the request as malformed")                 \
  X(KEYS_KMS_BAD_RESPONSE, 810, "a key service response is malformed or of an unknown kind")   \
  X(KEYS_CMS_INVALID, 811, "a CMS EnvelopedData is malformed or does not decrypt")             \
  X(KEYS_STORE_DENIED, 812, "the object store (S3) refused access (AccessDenied, bad signature)") \
  X(KEYS_STORE_BAD_RESPONSE, 813, "an object store response is malformed or does not match the request") \
  X(KEYS_TLS_FAILED, 814, "the TLS connection to a key/object service failed (untrusted certificate, wrong host, protocol)") \
  X(KEYS_COLD_START_PENDING, 815, "the stage is still cold-starting (sealed model not loaded yet); retry shortly") \
  /* 900-999: receipts */                                                                      \
  X(RECEIPT_INVALID, 900, "a receipt failed verification")                                     \
  X(RECEIPT_MALFORMED, 901, "a receipt is not a well-formed AIR v1 COSE_Sign1 (parse layer)")   \
  X(RECEIPT_BAD_ALG, 902, "a receipt's protected header names an algorithm other than EdDSA")  \
  X(RECEIPT_SIGNATURE_INVALID, 903, "a receipt's Ed25519 signature does not verify with the key") \
  X(RECEIPT_BAD_CLAIM, 904, "a receipt claim is missing, mistyped, unknown or out of range")   \
  X(RECEIPT_STALE, 905, "a receipt's iat is older than the max age, or in the future")          \
  X(RECEIPT_MODEL_MISMATCH, 906, "a receipt's model_hash/model_id differs from the expected one") \
  X(RECEIPT_NONCE_MISMATCH, 907, "a receipt's eat_nonce is absent or differs from the challenge") \
  X(RECEIPT_PLATFORM_MISMATCH, 908, "a receipt's measurement_type is not the expected platform") \
  X(RECEIPT_REPLAY, 909, "a receipt's cti was seen before (replay)")                            \
  X(RECEIPT_POLICY_VIOLATION, 910, "a receipt violates the verifier policy (e.g. security_mode)") \
  X(RECEIPT_KEY_NOT_BOUND, 911, "the evidence does not bind a receipt signing key")             \
  X(RECEIPT_EVIDENCE_MISMATCH, 912, "a receipt's attestation_doc_hash/measurements differ from the evidence") \
  /* 1000-1099: simulator and scenarios */                                                     \
  X(SIM_SCENARIO_INVALID, 1000, "a scenario file is invalid")                                  \
  X(SIM_INVARIANT_VIOLATED, 1001, "a simulation invariant was violated")                       \
  X(SIM_LIMIT_EXCEEDED, 1002, "the simulation hit its event or virtual-time limit (livelock?)")
