// The sealed-model side of the simulated pipeline (`cpipe sim pipeline --sealed`): the operator
// seals the model under a SimKms key whose policy admits the stage image's PCR0
// (kms:RecipientAttestation:ImageSha384) and puts it in SimS3; the untrusted host runs the vsock
// proxy to both (docs/host-proxy.md); every stage gets a KMS client (SigV4, retry/backoff,
// breaker) and an S3 client that reach the services only through that proxy. Faults: a key
// policy that admits another image (AccessDenied), KMS throttling, a host that flips a byte of a
// sealed chunk in flight, and whatever a SimServiceFilter (the scenario's kms_error / s3_error
// faults, sim_fault_injector.h) makes the services answer.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backends/simulated/sim_kms.h"
#include "backends/simulated/sim_s3.h"
#include "backends/simulated/sim_world.h"
#include "core/keys/cold_start.h"
#include "core/keys/http_kms_client.h"
#include "core/keys/http_object_store.h"
#include "core/keys/kms_retry.h"
#include "core/pipeline/host_proxy.h"
#include "core/runtime/connector.h"

namespace cpipe::cli {

struct SimDeliveryOptions {
  std::string model_dir;                       // config.json + model.safetensors
  std::string model_id = "gpt2-sim";
  std::string model_version = "1";
  uint32_t chunk_size = 1u << 20;
  std::string admitted_image = "cpipe-stage";  // the image the key policy admits (PCR0)
  int kms_throttle = 0;                        // the first N KMS requests are throttled
  bool corrupt_chunk = false;                  // host flips a byte inside sealed chunk 0
  uint64_t seed = 1;
};

struct SimDeliveryStats {
  uint64_t kms_requests = 0;
  uint64_t kms_throttled = 0;
  uint64_t kms_denied = 0;
  uint64_t kms_retries = 0;     // summed over the stages' retrying clients
  uint64_t s3_gets = 0;
  uint64_t s3_retries = 0;      // summed over the stages' object store clients
  uint64_t tampered_bytes = 0;  // bytes the host flipped
  uint64_t sealed_size = 0;
};

class SimKeyDelivery {
 public:
  // Seals the model, starts SimKms on `kms_node` and SimS3 on `s3_node`, and the host's proxy.
  // `attestation_root_der` is the simulated Nitro root SimKms pins for Recipient documents.
  static Result<std::unique_ptr<SimKeyDelivery>> create(sim::SimNode& host, sim::SimNode& kms_node,
                                                        sim::SimNode& s3_node, const SimDeliveryOptions& options,
                                                        const Bytes& attestation_root_der);
  ~SimKeyDelivery();

  // A cold start configuration for (an incarnation of) stage `stage`'s process on `env` (its
  // clients are made here and live as long as this object). The caller adds attestation and
  // the load step. Each stage signs KMS requests with its own access key (its parent instance's
  // role session), so the key service can tell callers apart (stage_of_kms_caller).
  keys::ColdStartConfig cold_start_for(runtime::Env& env, int stage);
  // Stage `stage`'s process died: the sockets of its clients close (a call in flight fails, its
  // answer is never read) and they connect no more. Its next incarnation gets new clients.
  void process_died(int stage);
  // The stage whose KMS access key is `access_key_id`; -1 for none.
  static int stage_of_kms_caller(const std::string& access_key_id);
  // Fault injection at the services' request boundary (null: none); cleared by stop().
  void set_filters(sim::SimServiceFilter* kms, sim::SimServiceFilter* s3);

  const Bytes& manifest_hash() const { return manifest_hash_; }
  const SimDeliveryOptions& options() const { return options_; }
  SimDeliveryStats stats() const;
  void stop();

 private:
  struct StageClients;
  explicit SimKeyDelivery(SimDeliveryOptions options);

  SimDeliveryOptions options_;
  runtime::Env host_env_;
  std::unique_ptr<sim::SimKms> kms_;
  std::unique_ptr<sim::SimS3> s3_;
  std::unique_ptr<pipeline::HostProxy> proxy_;
  std::vector<std::unique_ptr<StageClients>> clients_;
  Bytes manifest_hash_;
  uint64_t sealed_size_ = 0;
  bool stopped_ = false;
};

// The sealed-model manifest of DIR's config.json and model.safetensors (what a receipt's
// model_hash names, sealed or not); `contents` (optional) receives the files' bytes.
Result<keys::Manifest> model_dir_manifest(const std::string& dir, std::vector<Bytes>* contents = nullptr);

// The recipient key every simulated stage's cold start uses (a fixed simulation-only RSA-2048
// key, so sealed runs stay a pure function of the seed; hardware makes a fresh one per boot).
Result<keys::RsaKey> sim_recipient_key();

}  // namespace cpipe::cli
