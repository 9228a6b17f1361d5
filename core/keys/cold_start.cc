// The cold start's phases: header, key release (KMS or DEVELOPMENT-ONLY dev key), the chunk
// window, the load step.
#include "core/keys/cold_start.h"

#include <cmath>
#include <optional>

#include "core/keys/dev_key_wrap.h"
#include "core/keys/kms_request.h"
#include "core/keys/sealed_model_reader.h"
#include "core/runtime/compute.h"
#include "core/runtime/oneshot.h"

namespace cpipe::keys {
namespace {

using runtime::Task;

double ms_between(runtime::MonoTime a, runtime::MonoTime b) { return double((b - a).count()) / 1e6; }

// Three decimals, without locale or stdio.
std::string fmt_ms(double ms) {
  const int64_t us = std::llround(ms * 1000.0);
  const int64_t a = us < 0 ? -us : us;
  std::string out;
  if (us < 0) out.push_back('-');
  out.append(std::to_string(a / 1000));
  out.push_back('.');
  const int64_t frac = a % 1000;
  out.push_back(char('0' + frac / 100));
  out.push_back(char('0' + frac / 10 % 10));
  out.push_back(char('0' + frac % 10));
  return out;
}

// Writes each file into one buffer reserved at its manifest size: no regrowth, no copies.
class FileBufferSink final : public ModelSink {
 public:
  FileBufferSink(std::vector<ModelFile>* files, uint64_t max_bytes) : files_(files), max_bytes_(max_bytes) {}

  Status on_manifest(const Manifest& manifest) override {
    if (manifest.total_file_bytes() > max_bytes_)
      return make_error(ErrorCode::RESOURCE_EXHAUSTED,
                        "cold start: model files total " + std::to_string(manifest.total_file_bytes()) +
                            " bytes, over the limit of " + std::to_string(max_bytes_));
    files_->clear();
    files_->resize(manifest.files.size());
    for (size_t i = 0; i < manifest.files.size(); ++i) {
      (*files_)[i].name = manifest.files[i].name;
      (*files_)[i].data.reserve(static_cast<size_t>(manifest.files[i].size));
    }
    return Status::Ok();
  }
  Status on_file_data(size_t file_index, uint64_t offset, ByteSpan data) override {
    Bytes& b = (*files_)[file_index].data;
    if (offset != b.size()) return make_error(ErrorCode::INTERNAL, "cold start: out-of-order file data");
    b.insert(b.end(), data.begin(), data.end());
    return Status::Ok();
  }

 private:
  std::vector<ModelFile>* files_;
  uint64_t max_bytes_;
};

// One ranged GET into `out`, reported through `done` (the window's fetches run as their own
// tasks so several are in flight while the cold start decrypts).
Task<void> fetch_chunk(ObjectStore* store, std::string key, uint64_t offset, MutableByteSpan out,
                       runtime::Oneshot<Result<size_t>> done) {
  Result<size_t> r = co_await store->read_range(std::move(key), offset, out);
  done.set(std::move(r));
}

// Runs `fn` on Compute when the Env has one (simulated cost `cost`), inline otherwise.
Task<void> on_compute(runtime::Env& env, std::function<void()> fn, runtime::Duration cost) {
  if (env.compute == nullptr) {
    fn();
    co_return;
  }
  co_await runtime::run_compute(*env.compute, *env.executor, std::move(fn), runtime::ComputeCost{cost});
}

void wipe(std::vector<ModelFile>& files) {
  for (ModelFile& f : files) secure_zero(f.data);
  files.clear();
}

struct HeaderRead {
  SealedModelHeader header;
  uint64_t object_size = 0;
};

Task<Result<HeaderRead>> read_header(ObjectStore& store, const ColdStartConfig& config) {
  HeaderRead out;
  Result<uint64_t> size = co_await store.size(config.object_key);
  if (!size.ok()) co_return size.status().with_context("cold start: sealed model object '" + config.object_key + "'");
  out.object_size = *size;
  if (out.object_size < kHeaderPrefixSize)
    co_return make_error(ErrorCode::KEYS_TRUNCATED, "cold start: the sealed object has only " +
                                                        std::to_string(out.object_size) + " bytes");
  const size_t want = static_cast<size_t>(std::min<uint64_t>(out.object_size, std::max<size_t>(config.header_read_size, kHeaderPrefixSize)));
  Result<Bytes> first = co_await store.get_range(config.object_key, 0, want);
  if (!first.ok()) co_return first.status().with_context("cold start: reading the sealed header");
  Bytes head = std::move(*first);
  CPIPE_CO_ASSIGN_OR_RETURN(uint32_t header_size, peek_header_size(head));
  if (header_size > head.size() && header_size <= out.object_size) {
    Result<Bytes> rest = co_await store.get_range(config.object_key, head.size(), header_size - head.size());
    if (!rest.ok()) co_return rest.status().with_context("cold start: reading the sealed header");
    head.insert(head.end(), rest->begin(), rest->end());
  }
  CPIPE_CO_ASSIGN_OR_RETURN(out.header, parse_header(head));
  co_return out;
}

// The production key release: recipient key, attestation document, KMS, CMS envelope.
Task<Result<Bytes>> release_key_kms(runtime::Env& env, const ColdStartConfig& config, const SealedModelHeader& header,
                                    ColdStartResult* result, const Logger& log) {
  if (header.wrap.kind != KeyWrapKind::kKms)
    co_return make_error(ErrorCode::FAILED_PRECONDITION,
                         "cold start: the sealed model is wrapped with a DEVELOPMENT-ONLY dev key, not KMS");
  if (config.kms == nullptr || config.attestation == nullptr)
    co_return make_error(ErrorCode::INVALID_ARGUMENT, "cold start: KMS key release needs a KMS client and an attestation provider");
  const runtime::MonoTime t0 = env.clock->now();
  Result<RsaKey> key = config.make_recipient_key ? config.make_recipient_key() : RsaKey::generate_rsa2048();
  if (!key.ok()) co_return key.status().with_context("cold start: recipient key");
  CPIPE_CO_ASSIGN_OR_RETURN(Bytes spki, key->public_der());
  runtime::AttestationRequest request;
  request.public_key = spki;
  request.user_data = config.attestation_user_data;
  request.nonce = config.attestation_nonce;
  Result<runtime::Evidence> evidence = co_await config.attestation->attest(std::move(request));
  if (!evidence.ok()) co_return evidence.status().with_context("cold start: attestation");
  result->evidence = *evidence;
  const runtime::MonoTime t1 = env.clock->now();
  result->timings.attestation_ms = ms_between(t0, t1);

  KmsDecryptRequest kms_request;
  kms_request.ciphertext_blob = header.wrap.kms_ciphertext_blob;
  kms_request.key_id = header.wrap.kms_key_arn;
  kms_request.encryption_context = sealed_model_encryption_context(header.model_id, header.model_version);
  kms_request.attestation_document = evidence->document;
  Result<KmsDecryptResponse> response = co_await config.kms->decrypt(std::move(kms_request));
  if (!response.ok()) {
    log.error("key_release_refused", {{"error", response.status().to_string()}, {"key", header.wrap.kms_key_arn}});
    co_return response.status().with_context("cold start: KMS key release");
  }
  Result<Bytes> data_key = data_key_from_recipient_response(*response, *key);
  if (!data_key.ok()) co_return data_key.status().with_context("cold start: opening the KMS envelope");
  result->timings.kms_key_release_ms = ms_between(t1, env.clock->now());
  log.info("key_released", {{"key", header.wrap.kms_key_arn}, {"platform", evidence->platform}});
  co_return std::move(*data_key);
}

struct StreamTimes {
  runtime::Duration fetch{0};
  runtime::Duration decrypt{0};
  uint64_t fetched = 0;
};

// Streams every chunk through `reader` with `window` ranged GETs in flight.
Task<Status> stream_chunks(runtime::Env& env, const ColdStartConfig& config, SealedModelReader& reader,
                           ModelSink& sink, StreamTimes* times) {
  const SealedModelHeader& h = reader.header();
  const uint64_t count = h.chunk_count;
  const size_t window = static_cast<size_t>(std::min<uint64_t>(std::max<size_t>(config.window_chunks, 1), std::max<uint64_t>(count, 1)));
  std::vector<Bytes> slots(window, Bytes(count > 0 ? h.sealed_chunk_size(0) : 0));
  std::vector<std::optional<runtime::Oneshot<Result<size_t>>>> inflight(window);
  auto start = [&](uint64_t i) {
    Bytes& slot = slots[i % window];
    runtime::Oneshot<Result<size_t>> done(*env.executor);
    inflight[i % window].emplace(done);
    runtime::spawn(*env.executor, fetch_chunk(config.store, config.object_key, h.chunk_offset(i),
                                              MutableByteSpan(slot.data(), h.sealed_chunk_size(i)), done));
  };
  for (uint64_t i = 0; i < window && i < count; ++i) start(i);
  Status failed;
  for (uint64_t i = 0; i < count; ++i) {
    const size_t s = i % window;
    const runtime::MonoTime t0 = env.clock->now();
    Result<size_t> got = co_await *inflight[s];
    inflight[s].reset();
    times->fetch += env.clock->now() - t0;
    if (!got.ok()) {
      failed = got.status().with_context("cold start: fetching chunk " + std::to_string(i));
      break;
    }
    times->fetched += *got;
    if (*got != h.sealed_chunk_size(i)) {
      failed = make_error(ErrorCode::KEYS_TRUNCATED, "cold start: the object ends inside chunk " + std::to_string(i));
      break;
    }
    MutableByteSpan chunk(slots[s].data(), *got);
    Status pushed;
    const runtime::MonoTime t1 = env.clock->now();
    const int64_t cost_ns = static_cast<int64_t>((__int128)config.decrypt_cost_per_mib.count() * int64_t(*got) >> 20);
    co_await on_compute(env, [&reader, &sink, &pushed, chunk] { pushed = reader.push_chunk_in_place(chunk, sink); },
                        runtime::Duration(cost_ns));
    times->decrypt += env.clock->now() - t1;
    if (!pushed.ok()) {
      failed = pushed;
      break;
    }
    if (i + window < count) start(i + window);
  }
  // The fetches still running write into `slots`: wait for them before the buffers go.
  for (auto& f : inflight)
    if (f) (void)co_await *f;
  for (Bytes& slot : slots) secure_zero(slot);
  if (!failed.ok()) co_return failed;
  co_return reader.finish();
}

}  // namespace

std::string ColdStartTimings::to_json() const {
  return "{\"attestation_ms\":" + fmt_ms(attestation_ms) + ",\"kms_key_release_ms\":" + fmt_ms(kms_key_release_ms) +
         ",\"model_fetch_ms\":" + fmt_ms(model_fetch_ms) + ",\"model_decrypt_ms\":" + fmt_ms(model_decrypt_ms) +
         ",\"model_load_ms\":" + fmt_ms(model_load_ms) + ",\"cold_start_total_ms\":" + fmt_ms(cold_start_total_ms) + "}";
}

uint64_t cold_start_peak_bytes(const SealedModelHeader& header, uint64_t plaintext_file_bytes, size_t window) {
  const uint64_t w = std::min<uint64_t>(std::max<size_t>(window, 1), std::max<uint64_t>(header.chunk_count, 1));
  const uint64_t chunk = header.chunk_count > 0 ? header.sealed_chunk_size(0) : 0;
  return plaintext_file_bytes + w * chunk + header.header_size;
}

ModelFile* ColdStartResult::find(std::string_view name) {
  for (ModelFile& f : files)
    if (f.name == name) return &f;
  return nullptr;
}
const ModelFile* ColdStartResult::find(std::string_view name) const {
  for (const ModelFile& f : files)
    if (f.name == name) return &f;
  return nullptr;
}
uint64_t ColdStartResult::bytes_held() const {
  uint64_t n = 0;
  for (const ModelFile& f : files) n += f.data.capacity();
  return n;
}

Task<Result<ColdStartResult>> cold_start(runtime::Env& env, ColdStartConfig config) {
  const Logger log = env.logger("keys.cold_start");
  const runtime::MonoTime t_begin = env.clock->now();
  if (config.store == nullptr || config.object_key.empty())
    co_return make_error(ErrorCode::INVALID_ARGUMENT, "cold start: an object store and an object key are required");
  ColdStartResult result;
  const bool dev = config.dev_key.has_value();
  log.emit(dev ? EventLevel::kWarn : EventLevel::kInfo, "cold_start_begin",
           {{"object", config.object_key},
            {"model_id", config.model_id},
            {"key_release", dev ? "DEVELOPMENT-ONLY dev key" : "kms"}});

  // 1. The header (untrusted until chunk 0 authenticates under the released key).
  Result<HeaderRead> hr = co_await read_header(*config.store, config);
  if (!hr.ok()) co_return hr.status();
  const SealedModelHeader header = hr->header;
  runtime::Duration header_time = env.clock->now() - t_begin;
  result.stats.object_size = hr->object_size;
  if (hr->object_size < header.sealed_size())
    co_return make_error(ErrorCode::KEYS_TRUNCATED, "cold start: the sealed object has " + std::to_string(hr->object_size) +
                                                        " bytes, its header says " + std::to_string(header.sealed_size()));
  if (hr->object_size > header.sealed_size())
    co_return make_error(ErrorCode::KEYS_TRAILING_DATA, "cold start: the sealed object has " +
                                                            std::to_string(hr->object_size - header.sealed_size()) +
                                                            " bytes after its last chunk");
  CPIPE_CO_RETURN_IF_ERROR(check_expected_model(header, config.model_id, config.model_version, config.expected_manifest_hash));

  // 2. The data key.
  Bytes data_key;
  if (dev) {
    const runtime::MonoTime t = env.clock->now();
    Result<Bytes> k = unwrap_data_key_dev(header, *config.dev_key);
    if (!k.ok()) co_return k.status().with_context("cold start (DEVELOPMENT-ONLY dev key)");
    data_key = std::move(*k);
    result.development_key = true;
    result.timings.kms_key_release_ms = ms_between(t, env.clock->now());
    log.warn("dev_key_used", {{"mode", "DEVELOPMENT-ONLY"},
                              {"note", "data key from a local dev key file: no attestation, no KMS"},
                              {"development_only", "true"}});
  } else {
    Result<Bytes> k = co_await release_key_kms(env, config, header, &result, log);
    if (!k.ok()) co_return k.status();
    data_key = std::move(*k);
  }

  // 3. Stream, authenticate, decrypt.
  Result<std::unique_ptr<SealedModelReader>> reader = SealedModelReader::open(header, data_key);
  secure_zero(data_key);
  if (!reader.ok()) co_return reader.status();
  FileBufferSink sink(&result.files, config.max_model_bytes);
  StreamTimes times;
  Status streamed = co_await stream_chunks(env, config, **reader, sink, &times);
  result.stats.sealed_bytes_fetched = times.fetched;
  if (!streamed.ok()) {
    wipe(result.files);
    log.error("cold_start_failed", {{"error", streamed.to_string()}});
    co_return streamed;
  }
  result.model_id = header.model_id;
  result.model_version = header.model_version;
  result.manifest_hash = header.manifest_hash;
  result.manifest = *(*reader)->manifest();
  result.stats.chunks = header.chunk_count;
  result.stats.plaintext_bytes = result.manifest.total_file_bytes();
  result.stats.peak_bytes_held = cold_start_peak_bytes(header, result.stats.plaintext_bytes, config.window_chunks);
  result.timings.model_fetch_ms = double((header_time + times.fetch).count()) / 1e6;
  result.timings.model_decrypt_ms = double(times.decrypt.count()) / 1e6;

  // 4. Load.
  if (config.load) {
    const runtime::MonoTime t = env.clock->now();
    Status loaded;
    co_await on_compute(env, [&config, &result, &loaded] { loaded = config.load(result); }, config.load_cost);
    result.timings.model_load_ms = ms_between(t, env.clock->now());
    if (!loaded.ok()) {
      wipe(result.files);
      co_return loaded.with_context("cold start: loading the model");
    }
  }
  result.timings.cold_start_total_ms = ms_between(t_begin, env.clock->now());
  log.emit(dev ? EventLevel::kWarn : EventLevel::kInfo, "cold_start_done",
           {{"model_id", result.model_id},
            {"manifest_hash", hex_encode(result.manifest_hash)},
            {"key_release", dev ? "DEVELOPMENT-ONLY dev key" : "kms"},
            {"timings", result.timings.to_json()}});
  co_return result;
}

}  // namespace cpipe::keys
