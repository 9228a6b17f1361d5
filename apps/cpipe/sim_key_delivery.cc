// Sealed model delivery in the simulated pipeline: sealing, SimKms, SimS3, the host's proxy and
// the stages' clients (sim_key_delivery.h).
#include "apps/cpipe/sim_key_delivery.h"

#include <cctype>
#include <fstream>
#include <iterator>

#include "apps/cpipe/sim_attestation.h"
#include "backends/simulated/sim_random.h"
#include "core/crypto/hash.h"
#include "core/keys/base64.h"
#include "core/keys/sealed_model_writer.h"

namespace cpipe::cli {
namespace {

using namespace std::chrono_literals;

constexpr const char* kKeyId = "5e1ec7ed-0000-4000-8000-c0ffee000001";
constexpr const char* kStageRoleArn = "arn:aws:iam::111122223333:role/cpipe-stage";
constexpr const char* kStageKmsKeyPrefix = "AKIDCPIPESTAGE";  // + the stage index
constexpr const char* kStageKmsSecret = "cpipe-stage-kms-secret";
constexpr int kMaxStages = 16;
const keys::AwsCredentials kStageS3Creds{"AKIDCPIPESTAGES3", "cpipe-stage-s3-secret", ""};
const std::string kObjectKey = "models/gpt2-sim.sealed";
const runtime::Endpoint kProxyKms = runtime::Endpoint::vsock(3, 8000);
const runtime::Endpoint kProxyS3 = runtime::Endpoint::vsock(3, 8001);

// A fixed RSA-2048 key (PKCS#8), for the simulator only: see sim_recipient_key().
constexpr const char* kSimRecipientKeyPkcs8 =
    "MIIEpAIBAAKCAQEAu3zWv0nfSyVh2k6A66XpS8gcnW+EnKc+7B2J1ucZelopIGDcKmELENECV3Sr"
    "jpJscp/tx5Ojp4vVD46ualBNzjaPasKMlo2EhvTH+4o2T/luLyUo1zVXfeFnLmfZ+BuJ+TxMU7I5"
    "bKlJLYHC6tLMc7yUixQoizXqXRBaq+JAuxhpwD6V7aVayurzE+riU7kG9UvMZzTuc5AONdWZyG+n"
    "2mwkcgIsjbtuu234dU7+wpeYtxETeOp+2ltQXMmMm4BjDN8f5oD9cVy0aKulSZUt7zunoN59896T"
    "VKULED2gF0R/mA4u2nDtKX6uo3ybLssyDVRmWWrkR9no7ZNrNQ+yRQIDAQABAoIBACrFu/s3Z+rt"
    "nBGRA83e06avgEG1gZA4gn0c7weZQOF+JLBHkKrVaVAckrdvfT0BMB8FV9qGVtlgKAsMzsMfz2RK"
    "Y7UkLa0iG3gra106JpJfsfCs/lB8kZl8/Qxj8mDtLXCv/izA9eNRiomIdzaZwT1tKglBn89EjVNO"
    "ahUZAJH+B2TTsPu4v0nrxE5CP/r3n//M6cHYUhFNHeit+4l9YC1UMd6WFMrGxq+e7CDq8/Q3Fwbf"
    "O2BSnDItMQSLC3YRKxh5CJCManLGVwNxur43+3FSZmVZfcIclVxMX6inb/s0oV32AxvJrmAErs6F"
    "6ef4rgsTPqeFmesRE3nwxrcB28ECgYEA6am2D6Bzg/HU9rXIsQFTzkwVP/kCLgHrknbKCklcvNmU"
    "QXt5g1hm5EKJKcDR0zFNGe78oix0znN+whj0VdgxPapx/F48uQ7iivgdQy9UdRvsAfPyuLml0Zav"
    "3cHNqFfS5WAEQJ4pdl81pHusmTqmuu59LKoN0NL6/ZAI8feyhsECgYEAzWkbxW3AyxPqzcGMjoGf"
    "B/dmO7PwvPdLz9d7BekWlE0LSMwl/LZF3zvWiTeEHHeReL4IftmcrjfUFvYTOOjstzMxNK3LelIr"
    "/CnVJGqAUe6nZBnun6wSGFgspTwhyPM5WIcPcnP/rzsAIa6tTDGXy/Pwq2B8Og9oh9vZD/ZrsIUC"
    "gYEAueQELUZu3+eCj4trUDZIH/UzaqOFcmigqvLKJYjbuHo4kifTMgUgRjQQvyDhTO0J87nHTpWj"
    "j6MekvgbWjgWZIK3EBlAodEPtZNSZGLBBDHkfmE/FmrLWoRRAVDvdh/4bfcHKwko3z07hdHGLFkW"
    "z9xvxRq8xwcyGot+MlHmu4ECgYBJYsHvORTl+MmslPeYeirM99BoiBL8EAXfzYZASFQuy4+6hGUV"
    "8jDoXkJ5Z4IlgXpRfuMeHrThcUSup1+at2zKztlHjsfhfbYFMxTZG8uYegEHvFQKa7lTRT0+E0um"
    "tW7JeAdGxraUbinP3s4/KICo9xAGykPXomWgFCVqlIlI2QKBgQCOq7PWPcZ+7uqCjD54/Xni57Vv"
    "VvJg1ys+8HC97J0DAyNjYfbDm+bVP2i8NHURmZh0IxO7D3pYKpRGOhcJP6hwxVOh4bCjsSJrWhFK"
    "zItHu/Sm4qLrsJnVyjCwYgbyYskoM5kja/A0sV0ZzJzsk7/qObJ0Pw4969D6qzha85LORw=="
    ;

// The key policy: kms:Decrypt for the stage role, only with a Recipient document whose image
// hash (PCR0) is the admitted image's.
std::string key_policy(const std::string& image) {
  std::string pcr0 = sim_image_measurements(sim_image(image)).at("PCR0");
  for (char& c : pcr0) c = char(std::toupper(static_cast<unsigned char>(c)));
  return std::string(R"({"Version":"2012-10-17","Statement":[{"Sid":"StageDecrypt","Effect":"Allow",)"
                     R"("Principal":{"AWS":")") + kStageRoleArn +
         R"("},"Action":"kms:Decrypt","Resource":"*","Condition":{"StringEqualsIgnoreCase":)"
         R"({"kms:RecipientAttestation:ImageSha384":")" + pcr0 + R"("}}}]})";
}

Result<Bytes> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::IO_ERROR, "cannot read " + path);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

// A StreamConnector wrapper scoped to one stage process: when the process dies, the streams it
// opened close and it connects no more (CANCELLED: not a transport error, so nobody retries).
class ProcessConnector final : public runtime::StreamConnector {
 public:
  ProcessConnector(runtime::Network* network, runtime::Endpoint endpoint, runtime::Duration timeout)
      : inner_(network, std::move(endpoint), timeout) {}

  runtime::Task<Result<std::shared_ptr<runtime::Stream>>> connect() override {
    if (dead_) co_return make_error(ErrorCode::CANCELLED, "the stage process died");
    Result<std::shared_ptr<runtime::Stream>> s = co_await inner_.connect();
    if (s.ok() && dead_) {
      (*s)->close();
      co_return make_error(ErrorCode::CANCELLED, "the stage process died");
    }
    if (s.ok()) {
      std::erase_if(streams_, [](const std::weak_ptr<runtime::Stream>& w) { return w.expired(); });
      streams_.push_back(*s);
    }
    co_return s;
  }

  void die() {
    dead_ = true;
    for (auto& w : streams_)
      if (auto s = w.lock()) s->close();
    streams_.clear();
  }

 private:
  runtime::NetworkConnector inner_;
  bool dead_ = false;
  std::vector<std::weak_ptr<runtime::Stream>> streams_;
};

struct SimKeyDelivery::StageClients {
  StageClients(runtime::Env& env, const SimDeliveryOptions& o, int stage_index)
      : stage(stage_index), kms_connector(env.network, kProxyKms, 2s), s3_connector(env.network, kProxyS3, 2s) {
    keys::HttpKmsClientOptions ko;
    ko.endpoint = {"eu-west-1", "kms.eu-west-1.amazonaws.com"};
    ko.credentials = {kStageKmsKeyPrefix + std::to_string(stage), kStageKmsSecret, ""};
    http_kms = std::make_unique<keys::HttpKmsClient>(env, &kms_connector, ko);
    keys::KmsRetryPolicy rp;
    rp.base_backoff = 100ms;
    kms = std::make_unique<keys::RetryingKmsClient>(env, http_kms.get(), rp);
    keys::S3StoreConfig sc;
    sc.bucket = "cpipe-models";
    sc.credentials = kStageS3Creds;
    store = std::make_unique<keys::HttpObjectStore>(env, s3_connector, sc);
    (void)o;
  }
  int stage;
  ProcessConnector kms_connector, s3_connector;
  std::unique_ptr<keys::HttpKmsClient> http_kms;
  std::unique_ptr<keys::RetryingKmsClient> kms;
  std::unique_ptr<keys::HttpObjectStore> store;
};

Result<keys::Manifest> model_dir_manifest(const std::string& dir, std::vector<Bytes>* contents) {
  keys::Manifest manifest;
  for (const char* name : {"config.json", "model.safetensors"}) {
    CPIPE_ASSIGN_OR_RETURN(Bytes data, read_all(dir + "/" + name));
    manifest.files.push_back({name, data.size(), crypto::sha256(data)});
    if (contents) contents->push_back(std::move(data));
  }
  return manifest;
}

Result<keys::RsaKey> sim_recipient_key() {
  static const Result<Bytes> der = keys::base64_decode(kSimRecipientKeyPkcs8);
  if (!der.ok()) return der.status();
  return keys::RsaKey::from_private_der(*der);
}

Result<std::unique_ptr<SimKeyDelivery>> SimKeyDelivery::create(sim::SimNode& host, sim::SimNode& kms_node,
                                                               sim::SimNode& s3_node, const SimDeliveryOptions& o,
                                                               const Bytes& attestation_root_der) {
  std::unique_ptr<SimKeyDelivery> d(new SimKeyDelivery(o));
  d->host_env_ = host.env();
  sim::SimKmsConfig kc;
  for (int i = 0; i < kMaxStages; ++i)
    kc.principals.push_back({kStageKmsKeyPrefix + std::to_string(i), kStageKmsSecret, "", kStageRoleArn});
  kc.keys = {{kKeyId, {"alias/cpipe-models"}, key_policy(o.admitted_image)}};
  kc.attestation_root_der = attestation_root_der;
  CPIPE_ASSIGN_OR_RETURN(d->kms_, sim::SimKms::create(kms_node, kc));
  CPIPE_RETURN_IF_ERROR(d->kms_->start());
  sim::SimS3Config s3c;
  s3c.credentials = kStageS3Creds;
  d->s3_ = std::make_unique<sim::SimS3>(s3_node, s3c);
  CPIPE_RETURN_IF_ERROR(d->s3_->start());

  // The operator seals the model under a data key bound to the model's identity.
  CPIPE_ASSIGN_OR_RETURN(sim::SimDataKey dk, d->kms_->generate_data_key(
                                                 kKeyId, keys::sealed_model_encryption_context(o.model_id, o.model_version)));
  keys::KeyWrap wrap;
  wrap.kind = keys::KeyWrapKind::kKms;
  wrap.kms_key_arn = dk.key_arn;
  wrap.kms_ciphertext_blob = dk.ciphertext_blob;
  std::vector<Bytes> files;
  CPIPE_ASSIGN_OR_RETURN(keys::Manifest manifest, model_dir_manifest(o.model_dir, &files));
  Bytes chunks;
  sim::SimRandom random(o.seed ^ 0x5ea1ed);
  CPIPE_ASSIGN_OR_RETURN(auto writer, keys::SealedModelWriter::create(
                                          {o.model_id, o.model_version, o.chunk_size}, manifest, dk.plaintext,
                                          std::move(wrap), random, [&chunks](uint64_t, ByteSpan c) {
                                            chunks.insert(chunks.end(), c.begin(), c.end());
                                            return Status::Ok();
                                          }));
  secure_zero(dk.plaintext);
  for (const Bytes& f : files) CPIPE_RETURN_IF_ERROR(writer->write(f));
  CPIPE_RETURN_IF_ERROR(writer->finish());
  Bytes sealed = writer->header_bytes();
  sealed.insert(sealed.end(), chunks.begin(), chunks.end());
  d->manifest_hash_ = manifest.hash();
  d->sealed_size_ = sealed.size();
  d->s3_->put_object(kObjectKey, std::move(sealed));

  pipeline::HostProxyConfig pc;
  const runtime::Endpoint kms_at = d->kms_->endpoint(), s3_at = d->s3_->endpoint();
  pc.routes = {{"kms", kProxyKms, kms_at}, {"s3", kProxyS3, s3_at}};
  pc.allowlist = {{kms_at.host, kms_at.port}, {s3_at.host, s3_at.port}};
  CPIPE_ASSIGN_OR_RETURN(d->proxy_, pipeline::HostProxy::create(d->host_env_, pc));
  // Connection 0 to S3 carries HEAD, the 64 KiB header read, then chunk 0: this offset lands
  // inside chunk 0's ciphertext.
  if (o.corrupt_chunk) d->proxy_->add_tamper({"s3", 0, pipeline::RelayDirection::kToDownstream, 100000, 0x04});
  d->proxy_->start();
  if (o.kms_throttle > 0) d->kms_->throttle_next(o.kms_throttle);
  return d;
}

SimKeyDelivery::SimKeyDelivery(SimDeliveryOptions options) : options_(std::move(options)) {}

SimKeyDelivery::~SimKeyDelivery() { stop(); }

void SimKeyDelivery::stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& c : clients_) c->store->close_idle_connections();
  set_filters(nullptr, nullptr);
  if (proxy_) proxy_->stop();
  if (s3_) s3_->stop();
  if (kms_) kms_->stop();
}

void SimKeyDelivery::process_died(int stage) {
  for (auto& c : clients_)
    if (c->stage == stage) {
      c->kms_connector.die();
      c->s3_connector.die();
    }
}

int SimKeyDelivery::stage_of_kms_caller(const std::string& access_key_id) {
  const std::string prefix = kStageKmsKeyPrefix;
  if (!access_key_id.starts_with(prefix) || access_key_id.size() == prefix.size()) return -1;
  int stage = 0;
  for (char c : access_key_id.substr(prefix.size())) {
    if (c < '0' || c > '9' || stage >= kMaxStages) return -1;
    stage = stage * 10 + (c - '0');
  }
  return stage < kMaxStages ? stage : -1;
}

void SimKeyDelivery::set_filters(sim::SimServiceFilter* kms, sim::SimServiceFilter* s3) {
  if (kms_) kms_->set_filter(kms);
  if (s3_) s3_->set_filter(s3);
}

keys::ColdStartConfig SimKeyDelivery::cold_start_for(runtime::Env& env, int stage) {
  clients_.push_back(std::make_unique<StageClients>(env, options_, stage));
  StageClients& c = *clients_.back();
  keys::ColdStartConfig cs;
  cs.store = c.store.get();
  cs.object_key = kObjectKey;
  cs.model_id = options_.model_id;
  cs.model_version = options_.model_version;
  cs.expected_manifest_hash = manifest_hash_;
  cs.kms = c.kms.get();
  cs.make_recipient_key = [] { return sim_recipient_key(); };
  // The simulator's cost of building the GPT-2 stage from the buffers (transposes and copies
  // at memory bandwidth): 1 ms per MiB, about what `cpipe bench coldstart` measures.
  cs.load_cost = std::chrono::milliseconds(int64_t(sealed_size_ >> 20) + 1);
  return cs;
}

SimDeliveryStats SimKeyDelivery::stats() const {
  SimDeliveryStats s;
  const auto& ks = kms_->stats();
  s.kms_requests = ks.requests;
  if (auto it = ks.errors.find("ThrottlingException"); it != ks.errors.end()) s.kms_throttled = it->second;
  if (auto it = ks.errors.find("AccessDeniedException"); it != ks.errors.end()) s.kms_denied = it->second;
  for (const auto& c : clients_) {
    s.kms_retries += c->kms->stats().retries;
    s.s3_retries += c->store->stats().retries;
  }
  s.s3_gets = s3_->stats().gets;
  s.tampered_bytes = proxy_->tampered_bytes();
  s.sealed_size = sealed_size_;
  return s;
}

}  // namespace cpipe::cli
