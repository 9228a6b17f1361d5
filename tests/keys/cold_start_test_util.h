// The cold start's world for tests: an enclave (vsock CID 16) whose only way out is the
// untrusted host's proxy (CID 3; routes to S3 and KMS, allow-listed), SimS3 serving a sealed
// tiny GPT-2, and the enclave's HttpObjectStore reaching S3 through the proxy. The model is
// synthesized (model/synth.h) into a temporary directory once per test binary, so tests can
// compare what the cold start delivers with the files on disk.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>

#include "backends/simulated/sim_s3.h"
#include "backends/simulated/sim_world.h"
#include "core/crypto/hash.h"
#include "core/keys/cold_start.h"
#include "core/keys/dev_key_wrap.h"
#include "core/keys/http_object_store.h"
#include "core/keys/sealed_model_writer.h"
#include "core/pipeline/host_proxy.h"
#include "core/runtime/connector.h"
#include "model/synth.h"

namespace cpipe::keys::testing {

inline const AwsCredentials kS3Creds{"AKIDCOLDSTARTS3", "cold-start-s3-secret", ""};
inline const std::string kModelId = "gpt2-tiny";
inline const std::string kModelVersion = "1";
inline const std::string kObjectKey = "models/gpt2-tiny.sealed";
inline constexpr uint32_t kChunkSize = 1u << 20;

// The tiny model's files, synthesized once (removed at exit).
struct TinyModel {
  std::string dir;
  std::vector<std::pair<std::string, Bytes>> files;  // sorted by name

  static const TinyModel& get() {
    static TinyModel* m = [] {
      auto* t = new TinyModel;
      const char* base = getenv("TMPDIR");
      std::string tmpl = std::string(base && *base ? base : "/tmp") + "/cpipe-coldstart-XXXXXX";
      char* p = mkdtemp(tmpl.data());
      EXPECT_NE(p, nullptr);
      t->dir = p ? p : "";
      auto c = model::gpt2_preset("tiny");
      EXPECT_TRUE(c.ok());
      Status s = model::synthesize_gpt2(*c, 7, t->dir);
      EXPECT_TRUE(s.ok()) << s.to_string();
      for (const char* name : {"config.json", "model.safetensors"}) {
        std::ifstream in(t->dir + "/" + name, std::ios::binary);
        t->files.emplace_back(name, Bytes(std::istreambuf_iterator<char>(in), {}));
      }
      std::atexit([] {
        std::error_code ec;
        std::filesystem::remove_all(get().dir, ec);
      });
      return t;
    }();
    return *m;
  }
  uint64_t total_bytes() const {
    uint64_t n = 0;
    for (const auto& f : files) n += f.second.size();
    return n;
  }
};

// Seals the tiny model (header || chunks) with `wrap` over `data_key`.
inline Bytes seal_tiny(ByteSpan data_key, KeyWrap wrap, runtime::Random& random, uint32_t chunk_size = kChunkSize) {
  const TinyModel& m = TinyModel::get();
  Manifest manifest;
  for (const auto& [name, data] : m.files) manifest.files.push_back({name, data.size(), crypto::sha256(data)});
  Bytes chunks;
  auto w = SealedModelWriter::create({kModelId, kModelVersion, chunk_size}, manifest, data_key, std::move(wrap), random,
                                     [&](uint64_t, ByteSpan c) {
                                       chunks.insert(chunks.end(), c.begin(), c.end());
                                       return Status::Ok();
                                     });
  EXPECT_TRUE(w.ok()) << w.status().to_string();
  if (!w.ok()) return {};
  for (const auto& f : m.files) EXPECT_TRUE((*w)->write(f.second).ok());
  EXPECT_TRUE((*w)->finish().ok());
  Bytes out = (*w)->header_bytes();
  out.insert(out.end(), chunks.begin(), chunks.end());
  return out;
}

struct ColdStartWorld {
  explicit ColdStartWorld(uint64_t seed = 21)
      : world(seed),
        enclave(world.add_node("enclave", {.cid = 16})),
        host(world.add_node("host", {.cid = 3})),
        s3_node(world.add_node("s3")),
        kms_node(world.add_node("kms")),
        enclave_env(enclave.env()),
        host_env(host.env()),
        s3(s3_node, s3_config()),
        s3_connector(enclave_env.network, runtime::Endpoint::vsock(3, 8001), std::chrono::seconds(2)) {
    world.set_keep_events(true);
    EXPECT_TRUE(s3.start().ok());
    pipeline::HostProxyConfig pc;
    pc.routes = {{"s3", runtime::Endpoint::vsock(3, 8001), runtime::Endpoint::tcp("s3", 80)},
                 {"kms", runtime::Endpoint::vsock(3, 8000), runtime::Endpoint::tcp("kms", 443)}};
    pc.allowlist = {{"s3", 80}, {"kms", 443}};
    auto p = pipeline::HostProxy::create(host_env, pc, &tap);
    EXPECT_TRUE(p.ok()) << p.status().to_string();
    proxy = std::move(*p);
    proxy->start();
    S3StoreConfig sc;
    sc.bucket = "cpipe-models";
    sc.credentials = kS3Creds;
    store = std::make_unique<HttpObjectStore>(enclave_env, s3_connector, sc);
  }
  ~ColdStartWorld() {
    store.reset();
    proxy->stop();
    s3.stop();
    (void)world.run_until_idle();
  }
  static sim::SimS3Config s3_config() {
    sim::SimS3Config c;
    c.credentials = kS3Creds;
    return c;
  }

  ColdStartConfig dev_config(ByteSpan dev_key) {
    ColdStartConfig c;
    c.store = store.get();
    c.object_key = kObjectKey;
    c.model_id = kModelId;
    c.model_version = kModelVersion;
    c.dev_key = Bytes(dev_key.begin(), dev_key.end());
    return c;
  }

  static runtime::Task<void> run_task(runtime::Env* env, ColdStartConfig config, Result<ColdStartResult>* out) {
    *out = co_await cold_start(*env, std::move(config));
  }
  Result<ColdStartResult> run(ColdStartConfig config) {
    Result<ColdStartResult> out = make_error(ErrorCode::INTERNAL, "cold start did not finish");
    runtime::spawn(enclave, run_task(&enclave_env, std::move(config), &out));
    Status s = world.run_until_idle();
    EXPECT_TRUE(s.ok()) << s.to_string();
    return out;
  }
  bool saw_event(std::string_view name) const {
    for (const auto& e : world.kept_events())
      if (e.event.name == name) return true;
    return false;
  }

  struct Tap final : pipeline::RelayTap {
    void on_chunk(uint64_t, pipeline::RelayDirection d, ByteSpan b) override {
      (d == pipeline::RelayDirection::kToUpstream ? up : down) += b.size();
      if (record) seen.insert(seen.end(), b.begin(), b.end());
    }
    uint64_t up = 0, down = 0;
    bool record = true;  // keep every relayed byte in `seen` (off for big models)
    Bytes seen;
  };

  sim::SimWorld world;
  sim::SimNode &enclave, &host, &s3_node, &kms_node;
  runtime::Env enclave_env, host_env;
  sim::SimS3 s3;
  runtime::NetworkConnector s3_connector;
  Tap tap;
  std::unique_ptr<pipeline::HostProxy> proxy;
  std::unique_ptr<HttpObjectStore> store;
};

}  // namespace cpipe::keys::testing
