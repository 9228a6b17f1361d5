// SimKms: the simulated AWS KMS (see sim_kms.h).
#include "backends/simulated/sim_kms.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "backends/simulated/sim_world.h"
#include "core/crypto/aead.h"
#include "core/crypto/hkdf.h"
#include "core/keys/base64.h"
#include "core/keys/cms_envelope.h"
#include "core/keys/rsa_key.h"
#include "core/keys/sigv4.h"
#include "core/runtime/executor.h"

namespace cpipe::sim {
namespace {

using json = nlohmann::json;
using keys::HttpRequest;
using keys::HttpResponse;
using runtime::Task;

constexpr std::string_view kBlobAadLabel = "cpipe.simkms.blob.v1";
constexpr uint8_t kBlobVersion = 1;

// Quantiles (ppm) of the latency model and their standard-normal z-scores: the latency at a
// knot is p50 * exp(sigma * z) with sigma from p99/p50, so the shape is log-normal; between
// knots it is interpolated in integers. The last knot caps the tail at the 99.99th percentile.
constexpr uint64_t kKnotPpm[] = {0, 1000, 10000, 100000, 250000, 500000, 750000, 900000, 990000, 999000, 1000000};
constexpr double kKnotZ[] = {-3.719, -3.090, -2.326, -1.2816, -0.6745, 0.0, 0.6745, 1.2816, 2.326, 3.090, 3.719};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t end = s.find(sep, start);
    out.push_back(std::string(s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start)));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

void put_u16(Bytes& out, size_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

void append(Bytes& out, std::string_view s) { out.insert(out.end(), s.begin(), s.end()); }

// AAD of a blob: label || u16 len || ARN || u16 count || (u16 len k || k || u16 len v || v)*,
// context sorted by key (KMS treats the context as an unordered map).
Bytes blob_aad(const std::string& arn, keys::EncryptionContext context) {
  std::sort(context.begin(), context.end());
  Bytes aad;
  append(aad, kBlobAadLabel);
  put_u16(aad, arn.size());
  append(aad, arn);
  put_u16(aad, context.size());
  for (const auto& [k, v] : context) {
    put_u16(aad, k.size());
    append(aad, k);
    put_u16(aad, v.size());
    append(aad, v);
  }
  return aad;
}

// {"k": "v", ...} -> context; anything else is a ValidationException message.
Result<keys::EncryptionContext> context_from_json(const json& j) {
  keys::EncryptionContext ctx;
  if (!j.contains("EncryptionContext") || j["EncryptionContext"].is_null()) return ctx;
  const json& c = j["EncryptionContext"];
  if (!c.is_object()) return make_error(ErrorCode::INVALID_ARGUMENT, "EncryptionContext must be a map of strings");
  for (const auto& [k, v] : c.items()) {
    if (!v.is_string()) return make_error(ErrorCode::INVALID_ARGUMENT, "EncryptionContext values must be strings");
    ctx.emplace_back(k, v.get<std::string>());
  }
  return ctx;
}

std::string request_id(uint64_t counter) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012llx", static_cast<unsigned long long>(counter));
  return buf;
}

std::string account_of(std::string_view arn) {
  const auto parts = split(arn, ':');
  return parts.size() > 4 ? parts[4] : std::string();
}

}  // namespace

SimKms::SimKms(SimNode& node, SimKmsConfig config) : node_(node), config_(std::move(config)) {}

SimKms::~SimKms() { stop(); }

Result<std::unique_ptr<SimKms>> SimKms::create(SimNode& node, SimKmsConfig config) {
  if (config.region.empty() || config.account.empty())
    return make_error(ErrorCode::INVALID_ARGUMENT, "SimKms needs a region and an account");
  if (config.latency_p50.count() < 0 || config.latency_p99 < config.latency_p50)
    return make_error(ErrorCode::INVALID_ARGUMENT, "SimKms latency needs 0 <= p50 <= p99");
  std::unique_ptr<SimKms> kms(new SimKms(node, std::move(config)));
  const SimKmsConfig& c = kms->config_;
  const Bytes prk = crypto::hkdf_extract(to_bytes("cpipe.simkms"), c.seed);
  for (const auto& spec : c.keys) {
    if (spec.key_id.empty() || kms->find_key(spec.key_id))
      return make_error(ErrorCode::INVALID_ARGUMENT, "SimKms key id empty or duplicated: '" + spec.key_id + "'");
    auto policy = KmsKeyPolicy::parse(spec.policy_json);
    if (!policy.ok())
      return make_error(ErrorCode::INVALID_ARGUMENT, "key " + spec.key_id + ": " + policy.status().message());
    Key key{spec.key_id, kms->key_arn(spec.key_id), spec.aliases, {}, std::move(*policy)};
    CPIPE_ASSIGN_OR_RETURN(key.material, crypto::hkdf_expand(prk, to_bytes("key material:" + key.arn), 32));
    kms->keys_.push_back(std::move(key));
  }
  attest::nitro::NitroPolicy np;
  np.root_der = c.attestation_root_der;
  np.platform = "sim-nitro";
  np.allow_debug = true;  // KMS itself accepts debug documents; their zero PCRs meet the policy
  np.max_age_ms = c.attestation_max_age_ms;
  CPIPE_ASSIGN_OR_RETURN(attest::nitro::NitroVerifier verifier, attest::nitro::NitroVerifier::create(np));
  kms->verifier_.emplace(std::move(verifier));
  // Log-normal knots through p50 and p99.
  const double p50 = double(c.latency_p50.count());
  const double ratio = c.latency_p50.count() > 0 ? double(c.latency_p99.count()) / p50 : 1.0;
  const double sigma = std::log(std::max(ratio, 1.0)) / 2.326;
  for (double z : kKnotZ) kms->latency_knots_.push_back(static_cast<int64_t>(std::llround(p50 * std::exp(sigma * z))));
  kms->bucket_scaled_ = int64_t(c.burst) * 1'000'000'000;
  kms->bucket_at_ = node.clock().now();
  return kms;
}

std::string SimKms::key_arn(const std::string& key_id) const {
  return "arn:aws:kms:" + config_.region + ":" + config_.account + ":key/" + key_id;
}

runtime::Endpoint SimKms::endpoint() const { return runtime::Endpoint::tcp(node_.host(), config_.port); }

Status SimKms::start() {
  if (listener_) return Status{};
  CPIPE_ASSIGN_OR_RETURN(listener_, node_.network().listen(endpoint()));
  runtime::spawn(node_, accept_loop(this, listener_.get()));
  node_.logger("sim.kms").info("kms_listening", {{"endpoint", endpoint().to_string()},
                                                  {"keys", std::to_string(keys_.size())}});
  return Status{};
}

void SimKms::stop() {
  if (listener_) listener_->close();
}

Task<void> SimKms::accept_loop(SimKms* kms, runtime::Listener* listener) {
  while (true) {
    Result<std::shared_ptr<runtime::Stream>> s = co_await listener->accept();
    if (!s.ok()) co_return;  // closed: the SimKms may be gone, touch nothing
    runtime::spawn(kms->node_, serve(kms, std::move(*s)));
  }
}

Task<void> SimKms::serve(SimKms* kms, std::shared_ptr<runtime::Stream> stream) {
  // One request per connection (the client sends Connection: close; so do we).
  Result<HttpRequest> request = co_await keys::http_read_request(*stream, kms->config_.limits);
  HttpResponse response;
  SimServiceCall call;
  if (!request.ok()) {
    if (request.status().code() != ErrorCode::PARSE_ERROR) {
      stream->close();
      co_return;
    }
    response = kms->error(400, "SerializationException", request.status().message());
  } else {
    call.id = ++kms->calls_;
    const std::string target = keys::http_header(request->headers, "X-Amz-Target");
    call.op = target.starts_with("TrentService.") ? target.substr(13) : target;
    call.caller = sigv4_access_key_of(keys::http_header(request->headers, "Authorization"));
    std::optional<SimInjectedError> injected;
    if (kms->filter_) injected = kms->filter_->on_request(call);
    if (injected) {
      // Counted like any request; answered in KMS's own error shape.
      ++kms->request_counter_;
      ++kms->stats_.requests;
      kms->stats_.arrivals.push_back(kms->node_.clock().now());
      ++kms->stats_.by_operation[call.op];
      response = kms->error(injected->http_status, injected->code, injected->message);
    } else {
      response = kms->handle(*request);
    }
  }
  response.headers.emplace_back("Connection", "close");
  co_await runtime::sleep_for(kms->node_.clock(), kms->sample_latency());
  const std::string wire = keys::http_serialize_response(response);
  (void)co_await stream->write_all(ByteSpan(reinterpret_cast<const uint8_t*>(wire.data()), wire.size()));
  stream->close();
  if (call.id != 0 && kms->filter_) kms->filter_->on_answer(call, response.status);
}

runtime::Duration SimKms::sample_latency() {
  if (latency_knots_.front() == latency_knots_.back()) return runtime::Duration(latency_knots_.front());
  const uint64_t u = node_.random().uniform(1'000'001);
  size_t i = 1;
  while (i + 1 < std::size(kKnotPpm) && kKnotPpm[i] < u) ++i;
  const int64_t lo = latency_knots_[i - 1], hi = latency_knots_[i];
  const uint64_t span = kKnotPpm[i] - kKnotPpm[i - 1];
  return runtime::Duration(lo + (hi - lo) * int64_t(u - kKnotPpm[i - 1]) / int64_t(span));
}

bool SimKms::take_token() {
  if (config_.rate_per_s == 0) return true;
  constexpr int64_t kScale = 1'000'000'000;
  const int64_t cap = int64_t(config_.burst) * kScale;
  const runtime::MonoTime now = node_.clock().now();
  int64_t elapsed = (now - bucket_at_).count();
  bucket_at_ = now;
  elapsed = std::min<int64_t>(elapsed, cap / int64_t(config_.rate_per_s) + 1);  // no overflow
  bucket_scaled_ = std::min(cap, bucket_scaled_ + elapsed * int64_t(config_.rate_per_s));
  if (bucket_scaled_ < kScale) return false;
  bucket_scaled_ -= kScale;
  return true;
}

const SimKms::Key* SimKms::find_key(const std::string& ref) const {
  for (const Key& k : keys_) {
    if (ref == k.id || ref == k.arn) return &k;
    for (const auto& alias : k.aliases)
      if (ref == alias || ref == "arn:aws:kms:" + config_.region + ":" + config_.account + ":" + alias) return &k;
  }
  return nullptr;
}

Status SimKms::set_key_policy(const std::string& key_ref, const std::string& policy_json) {
  const Key* key = find_key(key_ref);
  if (!key) return make_error(ErrorCode::NOT_FOUND, "no SimKms key " + key_ref);
  CPIPE_ASSIGN_OR_RETURN(KmsKeyPolicy policy, KmsKeyPolicy::parse(policy_json));
  const_cast<Key*>(key)->policy = std::move(policy);
  return Status{};
}

HttpResponse SimKms::error(int http_status, const std::string& type, const std::string& message) {
  ++stats_.errors[type];
  node_.logger("sim.kms").info("kms_error", {{"type", type}, {"message", message}});
  HttpResponse r;
  r.status = http_status;
  r.headers = {{"x-amzn-RequestId", request_id(request_counter_)}, {"Content-Type", "application/x-amz-json-1.1"}};
  json body;
  body["__type"] = type;
  body["message"] = message;
  r.body = body.dump();
  return r;
}

Result<const SimKmsPrincipal*> SimKms::authenticate(const HttpRequest& request, HttpResponse* err) {
  auto fail = [&](int status, const char* type, const std::string& message) -> Status {
    *err = error(status, type, message);
    return make_error(ErrorCode::KEYS_ACCESS_DENIED, message);
  };
  const std::string auth = keys::http_header(request.headers, "Authorization");
  if (auth.empty()) return fail(400, "MissingAuthenticationTokenException", "Missing Authentication Token");
  constexpr std::string_view kAlg = "AWS4-HMAC-SHA256 ";
  if (!auth.starts_with(kAlg)) return fail(400, "IncompleteSignatureException", "Unsupported signing algorithm");
  std::map<std::string, std::string> fields;
  for (const std::string& part : split(std::string_view(auth).substr(kAlg.size()), ',')) {
    const std::string p = trim(part);
    const size_t eq = p.find('=');
    if (eq == std::string::npos) return fail(400, "IncompleteSignatureException", "Malformed Authorization header");
    fields[p.substr(0, eq)] = p.substr(eq + 1);
  }
  if (!fields.count("Credential") || !fields.count("SignedHeaders") || !fields.count("Signature"))
    return fail(400, "IncompleteSignatureException",
                "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters");
  const auto scope = split(fields["Credential"], '/');
  if (scope.size() != 5 || scope[4] != "aws4_request")
    return fail(400, "IncompleteSignatureException", "Credential is not AKID/date/region/service/aws4_request");
  const SimKmsPrincipal* principal = nullptr;
  for (const auto& p : config_.principals)
    if (p.access_key_id == scope[0]) principal = &p;
  if (!principal)
    return fail(400, "UnrecognizedClientException", "The security token included in the request is invalid.");
  const std::string token = keys::http_header(request.headers, "X-Amz-Security-Token");
  if (!principal->session_token.empty() && token != principal->session_token)
    return fail(400, "UnrecognizedClientException", "The security token included in the request is invalid.");
  const std::string amz = keys::http_header(request.headers, "X-Amz-Date");
  Result<int64_t> t = make_error(ErrorCode::INVALID_ARGUMENT, "");
  if (amz.size() == 16 && amz[8] == 'T' && amz[15] == 'Z')
    t = keys::parse_iso8601_utc(amz.substr(0, 4) + "-" + amz.substr(4, 2) + "-" + amz.substr(6, 2) + "T" +
                                amz.substr(9, 2) + ":" + amz.substr(11, 2) + ":" + amz.substr(13, 2) + "Z");
  if (!t.ok()) return fail(400, "IncompleteSignatureException", "X-Amz-Date missing or malformed");
  if (scope[1] != amz.substr(0, 8) || scope[2] != config_.region || scope[3] != "kms")
    return fail(400, "InvalidSignatureException",
                "Credential should be scoped to a valid region, date and service ('" + fields["Credential"] + "')");
  const int64_t now_s = node_.clock().wall_now().unix_ns / 1'000'000'000;
  if (std::llabs(now_s - *t) > config_.max_request_skew_s)
    return fail(400, "InvalidSignatureException",
                "Signature expired: " + amz + " is outside the " + std::to_string(config_.max_request_skew_s) +
                    " s window around " + keys::amz_date(now_s));
  // Recompute over exactly the headers the client says it signed.
  const auto signed_names = split(fields["SignedHeaders"], ';');
  HttpRequest canonical{request.method, request.path, request.query, {}, request.body};
  for (const auto& h : request.headers) {
    const std::string n = lower(h.first);
    if (n == "x-amz-date" || n == "x-amz-security-token" || n == "authorization") continue;
    if (std::find(signed_names.begin(), signed_names.end(), n) != signed_names.end()) canonical.headers.push_back(h);
  }
  keys::AwsCredentials creds{principal->access_key_id, principal->secret_access_key, token};
  keys::SigV4Options o;
  o.region = config_.region;
  o.service = "kms";
  o.unix_time = *t;
  o.omit_session_token = !token.empty() &&
                         std::find(signed_names.begin(), signed_names.end(), "x-amz-security-token") == signed_names.end();
  Result<keys::SigV4Result> expected = keys::sigv4_sign_headers(canonical, creds, o);
  const std::string mismatch =
      "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access "
      "Key and signing method. Consult the service documentation for details.";
  if (!expected.ok()) return fail(400, "InvalidSignatureException", mismatch);
  const std::string expected_auth = keys::http_header(expected->added_headers, "Authorization");
  const bool headers_match = expected_auth.find("SignedHeaders=" + fields["SignedHeaders"] + ",") != std::string::npos;
  // Compare without an early exit.
  const std::string& got = fields["Signature"];
  unsigned diff = got.size() != expected->signature.size();
  for (size_t i = 0; i < std::min(got.size(), expected->signature.size()); ++i)
    diff |= unsigned(got[i] ^ expected->signature[i]);
  if (diff != 0 || !headers_match) return fail(400, "InvalidSignatureException", mismatch);
  return principal;
}

HttpResponse SimKms::handle(const HttpRequest& request) {
  ++request_counter_;
  ++stats_.requests;
  stats_.arrivals.push_back(node_.clock().now());
  if (request.method != "POST" || request.path != "/")
    return error(400, "UnknownOperationException", "KMS accepts POST / only");
  HttpResponse err;
  Result<const SimKmsPrincipal*> caller = authenticate(request, &err);
  if (!caller.ok()) return err;
  const std::string target = keys::http_header(request.headers, "X-Amz-Target");
  constexpr std::string_view kPrefix = "TrentService.";
  const std::string op = target.starts_with(kPrefix) ? target.substr(kPrefix.size()) : target;
  ++stats_.by_operation[op];
  if (!take_token()) return error(400, "ThrottlingException", "Rate exceeded");
  if (throttle_next_ > 0) {
    --throttle_next_;
    return error(400, "ThrottlingException", "Rate exceeded");
  }
  if (internal_next_ > 0) {
    --internal_next_;
    return error(500, "KMSInternalException", "The request processing has failed because of an unknown error.");
  }
  if (op == "Decrypt") return op_decrypt(request.body, **caller);
  if (op == "GenerateDataKey") return op_generate_data_key(request.body, **caller);
  return error(400, "UnknownOperationException", "Operation '" + target + "' is not supported by SimKms");
}

Result<Bytes> SimKms::seal_blob(const Key& key, ByteSpan plaintext, const keys::EncryptionContext& ctx) {
  CPIPE_ASSIGN_OR_RETURN(crypto::ChaCha20Poly1305 aead, crypto::ChaCha20Poly1305::create(key.material));
  const Bytes nonce = node_.random().bytes(crypto::kAeadNonceSize);
  CPIPE_ASSIGN_OR_RETURN(Bytes sealed, aead.seal(nonce, blob_aad(key.arn, ctx), plaintext));
  Bytes blob{kBlobVersion, static_cast<uint8_t>(key.arn.size())};
  append(blob, key.arn);
  blob.insert(blob.end(), nonce.begin(), nonce.end());
  blob.insert(blob.end(), sealed.begin(), sealed.end());
  return blob;
}

HttpResponse SimKms::op_decrypt(const std::string& body, const SimKmsPrincipal& caller) {
  const json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return error(400, "ValidationException", "Request body is not a JSON object");
  if (!j.contains("CiphertextBlob") || !j["CiphertextBlob"].is_string())
    return error(400, "ValidationException", "1 validation error detected: Value null at 'ciphertextBlob' failed to "
                                             "satisfy constraint: Member must not be null");
  auto blob = keys::base64_decode(j["CiphertextBlob"].get<std::string>());
  if (!blob.ok() || blob->empty() || blob->size() > 6144)
    return error(400, "ValidationException", "CiphertextBlob is not valid base64 of 1..6144 bytes");
  auto ctx = context_from_json(j);
  if (!ctx.ok()) return error(400, "ValidationException", ctx.status().message());
  if (j.contains("EncryptionAlgorithm") && !(j["EncryptionAlgorithm"].is_string() &&
                                             j["EncryptionAlgorithm"].get<std::string>() == "SYMMETRIC_DEFAULT"))
    return error(400, "ValidationException", "EncryptionAlgorithm must be SYMMETRIC_DEFAULT for a symmetric key");
  // Blob: version | len | ARN | nonce | ciphertext+tag.
  const Bytes& b = *blob;
  if (b.size() < 2 || b[0] != kBlobVersion || b.size() < 2 + size_t(b[1]) + crypto::kAeadNonceSize + crypto::kAeadTagSize)
    return error(400, "InvalidCiphertextException", "");
  const std::string arn(b.begin() + 2, b.begin() + 2 + b[1]);
  const Key* key = find_key(arn);
  if (!key) return error(400, "NotFoundException", "Key '" + arn + "' does not exist");
  if (j.contains("KeyId")) {
    const Key* named = j["KeyId"].is_string() ? find_key(j["KeyId"].get<std::string>()) : nullptr;
    if (named != key)
      return error(400, "IncorrectKeyException",
                   "The key ID in the request does not identify a CMK that can perform this operation.");
  }
  // Recipient, policy, then the AEAD: a denied caller learns nothing about the blob.
  std::optional<keys::RsaKey> recipient;
  std::map<std::string, std::string> cond;
  if (j.contains("Recipient") && !j["Recipient"].is_null()) {
    const json& r = j["Recipient"];
    if (!r.is_object() || !r.contains("AttestationDocument") || !r["AttestationDocument"].is_string())
      return error(400, "ValidationException", "Recipient requires an AttestationDocument");
    if (!r.contains("KeyEncryptionAlgorithm") || r["KeyEncryptionAlgorithm"] != "RSAES_OAEP_SHA_256")
      return error(400, "ValidationException", "Recipient.KeyEncryptionAlgorithm must be RSAES_OAEP_SHA_256");
    auto doc = keys::base64_decode(r["AttestationDocument"].get<std::string>());
    if (!doc.ok() || doc->empty()) return error(400, "ValidationException", "AttestationDocument is not base64");
    runtime::VerifyContext vctx;
    vctx.now_unix_ms = node_.clock().wall_now().unix_ms();
    auto verified = verifier_->verify_document(*doc, vctx);
    if (!verified.ok())
      return error(400, "ValidationException", "The attestation document is not valid: " + verified.status().message());
    if (!verified->document.public_key)
      return error(400, "ValidationException", "The attestation document has no public_key for the recipient");
    auto rsa = keys::RsaKey::from_public_der(*verified->document.public_key);
    if (!rsa.ok() || rsa->modulus_bytes() != 256)
      return error(400, "ValidationException", "The attestation document's public_key is not an RSA-2048 key");
    recipient.emplace(std::move(*rsa));
    for (const auto& [index, value] : verified->document.pcrs) {
      cond["kms:RecipientAttestation:PCR" + std::to_string(index)] = hex_encode(value);
      if (index == 0) cond["kms:RecipientAttestation:ImageSha384"] = hex_encode(value);
    }
  }
  for (const auto& [k, v] : *ctx) cond["kms:EncryptionContext:" + k] = v;
  cond["aws:PrincipalArn"] = caller.arn;
  cond["kms:CallerAccount"] = account_of(caller.arn);
  const KmsPolicyDecision decision = key->policy.evaluate({"kms:Decrypt", caller.arn, key->arn, cond});
  if (!decision.allowed) return error(400, "AccessDeniedException", decision.reason);

  auto aead = crypto::ChaCha20Poly1305::create(key->material);
  if (!aead.ok()) return error(500, "KMSInternalException", "key material");
  const size_t off = 2 + b[1];
  auto plaintext = aead->open(ByteSpan(b).subspan(off, crypto::kAeadNonceSize), blob_aad(key->arn, *ctx),
                              ByteSpan(b).subspan(off + crypto::kAeadNonceSize));
  if (!plaintext.ok()) return error(400, "InvalidCiphertextException", "");
  json out;
  out["KeyId"] = key->arn;
  out["EncryptionAlgorithm"] = "SYMMETRIC_DEFAULT";
  if (recipient) {
    auto cms = keys::encode_cms_enveloped_data(*plaintext, *recipient, node_.random());
    secure_zero(*plaintext);
    if (!cms.ok()) return error(500, "KMSInternalException", "CMS encoding failed");
    out["CiphertextForRecipient"] = keys::base64_encode(*cms);
  } else {
    out["Plaintext"] = keys::base64_encode(*plaintext);
    secure_zero(*plaintext);
  }
  node_.logger("sim.kms").info("kms_decrypt", {{"key", key->arn},
                                               {"recipient", recipient ? "attested" : "none"},
                                               {"allowed_by", decision.reason}});
  HttpResponse r;
  r.status = 200;
  r.headers = {{"x-amzn-RequestId", request_id(request_counter_)}, {"Content-Type", "application/x-amz-json-1.1"}};
  r.body = out.dump();
  return r;
}

HttpResponse SimKms::op_generate_data_key(const std::string& body, const SimKmsPrincipal& caller) {
  const json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return error(400, "ValidationException", "Request body is not a JSON object");
  if (!j.contains("KeyId") || !j["KeyId"].is_string())
    return error(400, "ValidationException", "1 validation error detected: Value null at 'keyId' failed to satisfy "
                                             "constraint: Member must not be null");
  const Key* key = find_key(j["KeyId"].get<std::string>());
  if (!key) return error(400, "NotFoundException", "Key '" + j["KeyId"].get<std::string>() + "' does not exist");
  size_t n = 0;
  const bool has_spec = j.contains("KeySpec"), has_n = j.contains("NumberOfBytes");
  if (has_spec == has_n) return error(400, "ValidationException", "Specify exactly one of KeySpec and NumberOfBytes");
  if (has_spec) {
    const std::string spec = j["KeySpec"].is_string() ? j["KeySpec"].get<std::string>() : "";
    if (spec == "AES_256") n = 32;
    else if (spec == "AES_128") n = 16;
    else return error(400, "ValidationException", "KeySpec must be AES_256 or AES_128");
  } else {
    if (!j["NumberOfBytes"].is_number_integer() || j["NumberOfBytes"].get<int64_t>() < 1 ||
        j["NumberOfBytes"].get<int64_t>() > 1024)
      return error(400, "ValidationException", "NumberOfBytes must be 1..1024");
    n = size_t(j["NumberOfBytes"].get<int64_t>());
  }
  if (j.contains("Recipient")) return error(400, "ValidationException", "SimKms: GenerateDataKey with Recipient is not modelled");
  auto ctx = context_from_json(j);
  if (!ctx.ok()) return error(400, "ValidationException", ctx.status().message());
  std::map<std::string, std::string> cond;
  for (const auto& [k, v] : *ctx) cond["kms:EncryptionContext:" + k] = v;
  cond["aws:PrincipalArn"] = caller.arn;
  cond["kms:CallerAccount"] = account_of(caller.arn);
  const KmsPolicyDecision decision = key->policy.evaluate({"kms:GenerateDataKey", caller.arn, key->arn, cond});
  if (!decision.allowed) return error(400, "AccessDeniedException", decision.reason);
  Bytes plaintext = node_.random().bytes(n);
  auto blob = seal_blob(*key, plaintext, *ctx);
  if (!blob.ok()) return error(500, "KMSInternalException", "sealing failed");
  json out;
  out["CiphertextBlob"] = keys::base64_encode(*blob);
  out["Plaintext"] = keys::base64_encode(plaintext);
  out["KeyId"] = key->arn;
  secure_zero(plaintext);
  HttpResponse r;
  r.status = 200;
  r.headers = {{"x-amzn-RequestId", request_id(request_counter_)}, {"Content-Type", "application/x-amz-json-1.1"}};
  r.body = out.dump();
  return r;
}

Result<SimDataKey> SimKms::generate_data_key(const std::string& key_ref, const keys::EncryptionContext& context) {
  const Key* key = find_key(key_ref);
  if (!key) return make_error(ErrorCode::NOT_FOUND, "no SimKms key " + key_ref);
  SimDataKey out;
  out.plaintext = node_.random().bytes(32);
  CPIPE_ASSIGN_OR_RETURN(out.ciphertext_blob, seal_blob(*key, out.plaintext, context));
  out.key_arn = key->arn;
  return out;
}

}  // namespace cpipe::sim
