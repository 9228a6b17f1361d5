// `cpipe model seal` / `cpipe model unseal` / `cpipe model dev-key`: the sealed-model format
// (docs/sealed-model.md) on the command line. This file does the file I/O; core/keys does the
// format and the cryptography, streaming one chunk at a time.
//
// Key wrapping:
//  --dev-key FILE   DEVELOPMENT ONLY: the data key is sealed under a local 32-byte key file.
//  --kms-key ARN    the data key comes from KMS GenerateDataKey, which this command does not
//                   call (no AWS access here): pass the call's output with --kms-data-key
//                   (Plaintext, 32 raw bytes) and --kms-ciphertext-blob (CiphertextBlob, raw).
//                   Without them it fails with NOT_SUPPORTED and prints the request to send.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "apps/cpipe/command_registry.h"
#include "backends/posix/os_random.h"
#include "core/crypto/hash.h"
#include "core/keys/dev_key_wrap.h"
#include "core/keys/kms_request.h"
#include "core/keys/sealed_model_reader.h"
#include "core/keys/sealed_model_writer.h"

namespace cpipe::cli {
namespace {

namespace fs = std::filesystem;
constexpr const char* kSealedFileName = "model.sealed";
constexpr size_t kIoPiece = 1u << 20;

Status io_error(const std::string& what) { return make_error(ErrorCode::IO_ERROR, what); }

Result<Bytes> read_small_file(const std::string& path, size_t max) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error("cannot open " + path);
  Bytes out(max + 1);
  in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(out.size()));
  out.resize(static_cast<size_t>(in.gcount()));
  if (out.size() > max) return make_error(ErrorCode::INVALID_ARGUMENT, path + " is larger than expected");
  return out;
}

Result<Bytes> read_key_file(const std::string& path, const char* what) {
  CPIPE_ASSIGN_OR_RETURN(Bytes key, read_small_file(path, 64));
  if (key.size() != keys::kDataKeySize)
    return make_error(ErrorCode::CRYPTO_BAD_KEY,
                      std::string(what) + " " + path + " must hold exactly 32 raw bytes");
  return key;
}

// Streams a file through `fn` in 1 MiB pieces.
template <typename Fn>
Status for_each_piece(const fs::path& path, Fn fn) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error("cannot open " + path.string());
  Bytes buf(kIoPiece);
  while (in) {
    in.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(buf.size()));
    const auto n = static_cast<size_t>(in.gcount());
    if (n > 0) CPIPE_RETURN_IF_ERROR(fn(ByteSpan(buf.data(), n)));
  }
  if (in.bad()) return io_error("error reading " + path.string());
  return Status::Ok();
}

// ---- seal ------------------------------------------------------------------------------------

struct SealCliOptions {
  std::string in, out, model_id, model_version = "1", dev_key, kms_key, kms_data_key, kms_blob;
  uint32_t chunk_size = keys::kDefaultChunkSize;
  bool json = false;
};

Result<keys::Manifest> hash_directory(const fs::path& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return make_error(ErrorCode::NOT_FOUND, root.string() + " is not a directory");
  keys::Manifest m;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    const std::string name = fs::relative(it->path(), root).generic_string();
    crypto::Sha256 h;
    uint64_t size = 0;
    CPIPE_RETURN_IF_ERROR(for_each_piece(it->path(), [&](ByteSpan piece) {
      h.update(piece);
      size += piece.size();
      return Status::Ok();
    }));
    m.files.push_back({name, size, h.finish()});
  }
  if (ec) return io_error("listing " + root.string() + ": " + ec.message());
  CPIPE_RETURN_IF_ERROR(m.normalize());
  return m;
}

Status kms_not_supported(const SealCliOptions& o) {
  return make_error(
      ErrorCode::NOT_SUPPORTED,
      "cpipe cannot reach KMS from here. Call GenerateDataKey yourself with this body, e.g. `aws kms "
      "generate-data-key --cli-input-json '" +
          keys::kms_generate_data_key_body(o.kms_key,
                                           keys::sealed_model_encryption_context(o.model_id, o.model_version)) +
          "'`, save Plaintext (base64-decoded, 32 bytes) and CiphertextBlob (base64-decoded) to files, and rerun "
          "with --kms-data-key FILE --kms-ciphertext-blob FILE (delete the plaintext file afterwards)");
}

int run_seal(const SealCliOptions& o) {
  if (o.dev_key.empty() == o.kms_key.empty())
    return report_error(
        make_error(ErrorCode::INVALID_ARGUMENT, "give exactly one of --dev-key FILE or --kms-key ARN"), o.json);
  posix::OsRandom random;
  Bytes data_key;
  keys::KeyWrap wrap;
  if (!o.dev_key.empty()) {
    auto dev = read_key_file(o.dev_key, "--dev-key");
    if (!dev.ok()) return report_error(dev.status(), o.json);
    data_key = random.bytes(keys::kDataKeySize);
    auto w = keys::wrap_data_key_dev(*dev, data_key, o.model_id, o.model_version, random);
    secure_zero(*dev);
    if (!w.ok()) return report_error(w.status(), o.json);
    wrap = std::move(*w);
    std::cerr << "WARNING: DEVELOPMENT ONLY key wrap (--dev-key): anyone with " << o.dev_key
              << " can decrypt this model; no attestation protects it.\n";
  } else {
    if (o.kms_data_key.empty() || o.kms_blob.empty()) return report_error(kms_not_supported(o), o.json);
    auto dk = read_key_file(o.kms_data_key, "--kms-data-key");
    if (!dk.ok()) return report_error(dk.status(), o.json);
    auto blob = read_small_file(o.kms_blob, keys::kMaxKmsBlobSize);
    if (!blob.ok()) return report_error(blob.status(), o.json);
    data_key = std::move(*dk);
    wrap.kind = keys::KeyWrapKind::kKms;
    wrap.kms_key_arn = o.kms_key;
    wrap.kms_ciphertext_blob = std::move(*blob);
  }

  auto manifest = hash_directory(o.in);
  if (!manifest.ok()) return report_error(manifest.status(), o.json);
  std::error_code ec;
  fs::create_directories(o.out, ec);
  const fs::path out_path = fs::path(o.out) / kSealedFileName;
  const fs::path tmp_path = fs::path(o.out) / (std::string(kSealedFileName) + ".partial");
  std::ofstream out(tmp_path, std::ios::binary | std::ios::trunc);
  if (!out) return report_error(io_error("cannot create " + tmp_path.string()), o.json);
  auto sink = [&out](uint64_t, ByteSpan chunk) {
    out.write(reinterpret_cast<const char*>(chunk.data()), static_cast<std::streamsize>(chunk.size()));
    return out ? Status::Ok() : io_error("write failed");
  };
  auto writer = keys::SealedModelWriter::create({o.model_id, o.model_version, o.chunk_size}, *manifest, data_key,
                                                std::move(wrap), random, sink);
  secure_zero(data_key);
  Status st = writer.status();
  if (st.ok()) {
    const Bytes& header = (*writer)->header_bytes();
    out.write(reinterpret_cast<const char*>(header.data()), static_cast<std::streamsize>(header.size()));
    for (const auto& f : (*writer)->manifest().files) {
      st = for_each_piece(fs::path(o.in) / f.name, [&](ByteSpan piece) { return (*writer)->write(piece); });
      if (!st.ok()) break;
    }
    if (st.ok()) st = (*writer)->finish();
  }
  out.close();
  if (st.ok() && !out) st = io_error("write failed");
  if (st.ok()) fs::rename(tmp_path, out_path, ec);
  if (st.ok() && ec) st = io_error("rename: " + ec.message());
  if (!st.ok()) {
    fs::remove(tmp_path, ec);
    return report_error(st, o.json);
  }
  const keys::SealedModelHeader& h = (*writer)->header();
  nlohmann::ordered_json j = {{"ok", true},
                              {"out", out_path.string()},
                              {"model_id", h.model_id},
                              {"model_version", h.model_version},
                              {"files", (*writer)->manifest().files.size()},
                              {"plaintext_bytes", (*writer)->manifest().total_file_bytes()},
                              {"chunk_size", h.chunk_size},
                              {"chunk_count", h.chunk_count},
                              {"sealed_bytes", h.sealed_size()},
                              {"manifest_hash", hex_encode(h.manifest_hash)},
                              {"key_wrap", keys::key_wrap_kind_name(h.wrap.kind)}};
  if (h.wrap.kind == keys::KeyWrapKind::kDevKey) j["warning"] = "DEVELOPMENT ONLY key wrap";
  std::cout << (o.json ? j.dump() : j.dump(2)) << std::endl;
  return kExitOk;
}

// ---- unseal ----------------------------------------------------------------------------------

struct UnsealCliOptions {
  std::string in, out, dev_key;
  bool json = false;
};

// Writes files under a staging directory; unseal renames them into place only when every chunk
// authenticated and the manifest checked out, and deletes them otherwise.
class DirectorySink : public keys::ModelSink {
 public:
  explicit DirectorySink(fs::path staging) : staging_(std::move(staging)) {}
  Status on_manifest(const keys::Manifest& m) override {
    manifest_ = m;
    return Status::Ok();
  }
  Status on_file_data(size_t i, uint64_t offset, ByteSpan data) override {
    if (!file_.is_open() || current_ != i) {
      CPIPE_RETURN_IF_ERROR(open(i));
      if (offset != 0) return make_error(ErrorCode::INTERNAL, "file data out of order");
    }
    file_.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
    return file_ ? Status::Ok() : io_error("write failed");
  }
  Status on_file_end(size_t i) override {
    if (!file_.is_open() || current_ != i) CPIPE_RETURN_IF_ERROR(open(i));  // empty file
    file_.close();
    return file_ ? Status::Ok() : io_error("close failed");
  }
  const keys::Manifest& manifest() const { return manifest_; }

 private:
  Status open(size_t i) {
    file_.close();
    current_ = i;
    const fs::path p = staging_ / manifest_.files[i].name;  // names are checked safe by the reader
    std::error_code ec;
    fs::create_directories(p.parent_path(), ec);
    file_.open(p, std::ios::binary | std::ios::trunc);
    return file_ ? Status::Ok() : io_error("cannot create " + p.string());
  }
  fs::path staging_;
  keys::Manifest manifest_;
  std::ofstream file_;
  size_t current_ = 0;
};

Status unseal(const UnsealCliOptions& o, const fs::path& staging, DirectorySink& sink,
              keys::SealedModelHeader* out) {
  fs::path in_path = o.in;
  if (fs::is_directory(in_path)) in_path /= kSealedFileName;
  std::ifstream in(in_path, std::ios::binary);
  if (!in) return io_error("cannot open " + in_path.string());
  Bytes header(keys::kHeaderPrefixSize);
  in.read(reinterpret_cast<char*>(header.data()), static_cast<std::streamsize>(header.size()));
  header.resize(static_cast<size_t>(in.gcount()));
  CPIPE_ASSIGN_OR_RETURN(uint32_t header_size, keys::peek_header_size(header));
  header.resize(header_size);
  in.read(reinterpret_cast<char*>(header.data() + keys::kHeaderPrefixSize),
          static_cast<std::streamsize>(header_size - keys::kHeaderPrefixSize));
  header.resize(keys::kHeaderPrefixSize + static_cast<size_t>(in.gcount()));
  CPIPE_ASSIGN_OR_RETURN(keys::SealedModelHeader h, keys::parse_header(header));
  CPIPE_ASSIGN_OR_RETURN(Bytes dev, read_key_file(o.dev_key, "--dev-key"));
  auto data_key = keys::unwrap_data_key_dev(h, dev);
  secure_zero(dev);
  if (!data_key.ok()) return data_key.status();
  auto reader = keys::SealedModelReader::open(h, *data_key);
  secure_zero(*data_key);
  if (!reader.ok()) return reader.status();
  std::error_code ec;
  fs::create_directories(staging, ec);
  if (ec) return io_error("cannot create " + staging.string());
  Bytes chunk(h.chunk_size + keys::kSealedTagSize);
  for (uint64_t i = 0; i < h.chunk_count; ++i) {
    const size_t want = h.sealed_chunk_size(i);
    in.read(reinterpret_cast<char*>(chunk.data()), static_cast<std::streamsize>(want));
    CPIPE_RETURN_IF_ERROR(
        (*reader)->push_chunk_in_place(MutableByteSpan(chunk.data(), static_cast<size_t>(in.gcount())), sink));
  }
  if (in.peek() != std::char_traits<char>::eof())
    return make_error(ErrorCode::KEYS_TRAILING_DATA, "bytes after the last chunk of " + in_path.string());
  CPIPE_RETURN_IF_ERROR((*reader)->finish());
  *out = std::move(h);
  return Status::Ok();
}

int run_unseal(const UnsealCliOptions& o) {
  std::cerr << "WARNING: DEVELOPMENT ONLY: unsealing with a local dev key, outside any enclave.\n";
  std::error_code ec;
  const fs::path staging = fs::path(o.out) / ".unseal-partial";
  fs::remove_all(staging, ec);
  DirectorySink sink(staging);
  keys::SealedModelHeader h;
  Status st = unseal(o, staging, sink, &h);
  if (st.ok()) {
    for (const auto& f : sink.manifest().files) {
      const fs::path dst = fs::path(o.out) / f.name;
      fs::create_directories(dst.parent_path(), ec);
      fs::rename(staging / f.name, dst, ec);
      if (ec) {
        st = io_error("moving " + f.name + " into place: " + ec.message());
        break;
      }
    }
  }
  fs::remove_all(staging, ec);  // on failure: every byte written so far goes
  if (!st.ok()) return report_error(st, o.json);
  nlohmann::ordered_json j = {{"ok", true},
                              {"out", o.out},
                              {"model_id", h.model_id},
                              {"model_version", h.model_version},
                              {"files", sink.manifest().files.size()},
                              {"plaintext_bytes", sink.manifest().total_file_bytes()},
                              {"chunk_count", h.chunk_count},
                              {"manifest_hash", hex_encode(h.manifest_hash)}};
  std::cout << (o.json ? j.dump() : j.dump(2)) << std::endl;
  return kExitOk;
}

// ---- dev-key ---------------------------------------------------------------------------------

int run_dev_key(const std::string& out, bool json) {
  posix::OsRandom random;
  Bytes key = random.bytes(keys::kDataKeySize);
  std::ofstream f(out, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(key.data()), static_cast<std::streamsize>(key.size()));
  f.close();
  secure_zero(key);
  if (!f) return report_error(io_error("cannot write " + out), json);
  std::error_code ec;
  fs::permissions(out, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace, ec);
  nlohmann::ordered_json j = {{"ok", true}, {"out", out}, {"warning", "DEVELOPMENT ONLY key"}};
  std::cout << j.dump() << std::endl;
  return kExitOk;
}

CommandRegistrar registrar([](CLI::App& root) {
  CLI::App* grp = group(root, "model", "Model files: synthesize, inspect, seal");

  auto so = std::make_shared<SealCliOptions>();
  CLI::App* seal = grp->add_subcommand("seal", "Seal a model directory (chunked AEAD, docs/sealed-model.md)");
  seal->add_option("--in", so->in, "Model directory (config.json, model.safetensors, tokenizer files)")
      ->required();
  seal->add_option("--out", so->out, "Output directory (gets model.sealed)")->required();
  seal->add_option("--model-id", so->model_id, "Model id bound into every chunk")->required();
  seal->add_option("--model-version", so->model_version, "Model version bound into every chunk (default 1)");
  seal->add_option("--chunk-size", so->chunk_size, "Plaintext bytes per chunk (4096 .. 64 MiB, default 4 MiB)");
  seal->add_option("--dev-key", so->dev_key, "DEVELOPMENT ONLY: 32-byte key file wrapping the data key");
  seal->add_option("--kms-key", so->kms_key, "KMS key ARN the data key was generated under");
  seal->add_option("--kms-data-key", so->kms_data_key, "With --kms-key: GenerateDataKey Plaintext (32 raw bytes)");
  seal->add_option("--kms-ciphertext-blob", so->kms_blob, "With --kms-key: GenerateDataKey CiphertextBlob (raw)");
  seal->add_flag("--json", so->json, "Machine-readable output");
  seal->callback([so] { set_exit_code(run_seal(*so)); });

  auto uo = std::make_shared<UnsealCliOptions>();
  CLI::App* unseal_cmd = grp->add_subcommand("unseal", "DEVELOPMENT ONLY: open a dev-key sealed model");
  unseal_cmd->add_option("--in", uo->in, "Directory with model.sealed (or the file)")->required();
  unseal_cmd->add_option("--out", uo->out, "Output directory")->required();
  unseal_cmd->add_option("--dev-key", uo->dev_key, "The 32-byte dev key file it was sealed with")->required();
  unseal_cmd->add_flag("--json", uo->json, "Machine-readable output");
  unseal_cmd->callback([uo] { set_exit_code(run_unseal(*uo)); });

  auto dk_out = std::make_shared<std::string>();
  auto dk_json = std::make_shared<bool>(false);
  CLI::App* dk = grp->add_subcommand("dev-key", "DEVELOPMENT ONLY: write a fresh 32-byte dev key file");
  dk->add_option("--out", *dk_out, "Key file to write (mode 0600)")->required();
  dk->add_flag("--json", *dk_json, "Machine-readable output");
  dk->callback([dk_out, dk_json] { set_exit_code(run_dev_key(*dk_out, *dk_json)); });
});

}  // namespace
}  // namespace cpipe::cli
