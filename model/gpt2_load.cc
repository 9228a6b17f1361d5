// Loading a GPT-2 stage from HF safetensors: name resolution (with or without the
// "transformer." prefix), shape checks, and conversion of Conv1D weights ([in, out] in the file)
// to the streaming layout [out, in] in the chosen weight format. fp32 vectors and the fp32
// embedding tables are used in place from the mapping.
#include <cstdlib>
#include <cstring>

#include "model/gpt2.h"

namespace cpipe::model {
namespace {

float f16_to_f32(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, u;
  if (exp == 0) {
    if (man == 0) {
      u = sign;
    } else {  // subnormal: renormalise
      int e = -1;
      do {
        ++e;
        man <<= 1;
      } while (!(man & 0x400));
      u = sign | uint32_t(127 - 15 - e) << 23 | (man & 0x3ff) << 13;
    }
  } else if (exp == 31) {
    u = sign | 0x7f800000u | man << 13;
  } else {
    u = sign | (exp + 127 - 15) << 23 | man << 13;
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(s[i]);
  }
  return out + "]";
}

}  // namespace

class Gpt2Model::Loader {
 public:
  // `shared`: the tensors this loader converts are also read in place elsewhere (the tied LM
  // head and the embedding table), so in-memory bytes must not be released.
  Loader(Gpt2Model& m, const SafetensorsFile& f, std::string prefix, bool copy_f32 = false, bool shared = false)
      : m_(m), f_(f), prefix_(std::move(prefix)), copy_f32_(copy_f32), shared_(shared) {}

  uint8_t* alloc(size_t bytes) {
    m_.owned_.push_back(allocate_weight_memory(bytes));
    return m_.owned_.back().get();
  }

  Result<const TensorView*> tensor(const std::string& name, std::vector<int64_t> shape) {
    const TensorView* t = f_.find(prefix_ + name);
    if (!t) return make_error(ErrorCode::MODEL_MISSING_TENSOR, "tensor " + prefix_ + name + " is missing");
    if (t->shape != shape)
      return make_error(ErrorCode::MODEL_SHAPE_MISMATCH, "tensor " + t->name + " has shape " + shape_str(t->shape) +
                                                             ", the config needs " + shape_str(shape));
    if (t->dtype != DType::F32 && t->dtype != DType::BF16 && t->dtype != DType::F16)
      return make_error(ErrorCode::MODEL_SHAPE_MISMATCH,
                        "tensor " + t->name + " has dtype " + std::string(dtype_name(t->dtype)) +
                            " (F32, BF16 or F16 expected)");
    return t;
  }

  // fp32 view of a tensor: in place when it is aligned F32, else converted into owned memory.
  const float* as_f32(const TensorView& t, bool* copied) {
    *copied = !(t.dtype == DType::F32 && t.aligned_for(alignof(float)));
    if (!*copied) return reinterpret_cast<const float*>(t.data.data());
    const int64_t n = t.numel();
    float* out = reinterpret_cast<float*>(alloc(size_t(n) * 4));
    const uint8_t* p = t.data.data();
    for (int64_t i = 0; i < n; ++i) {
      if (t.dtype == DType::F32) {
        std::memcpy(out + i, p + 4 * i, 4);
      } else {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        out[i] = t.dtype == DType::BF16 ? bf16_to_f32(h) : f16_to_f32(h);
      }
    }
    return out;
  }

  Result<const float*> vec(const std::string& name, int64_t n) {
    CPIPE_ASSIGN_OR_RETURN(const TensorView* t, tensor(name, {n}));
    bool copied;
    return as_f32(*t, &copied);
  }

  // A matrix stored [out, in] already (wte / lm_head) or [in, out] (Conv1D, transpose = true),
  // converted to `format` in [out, in] layout.
  Result<WeightMatrix> matrix(const std::string& name, int64_t out, int64_t in, bool transpose,
                              WeightFormat format) {
    std::vector<int64_t> shape = transpose ? std::vector<int64_t>{in, out} : std::vector<int64_t>{out, in};
    CPIPE_ASSIGN_OR_RETURN(const TensorView* t, tensor(name, shape));
    bool copied;
    const float* src = as_f32(*t, &copied);
    WeightMatrix w;
    w.format = format;
    w.rows = out;
    w.cols = in;
    if (!transpose && format == WeightFormat::kF32) {
      if (!copy_f32_) {
        w.data = src;  // zero-copy
        return w;
      }
      // Copied into huge-page memory: streamed every token, it reads faster from 2 MiB pages
      // than from the file mapping's 4 KiB page-cache pages.
      auto* dst = reinterpret_cast<float*>(alloc(size_t(out * in) * 4));
      std::memcpy(dst, src, size_t(out * in) * 4);
      w.data = dst;
      if (!copied) release(*t);
      return w;
    }
    // Transpose through blocks so both sides stay in cache.
    std::vector<float> row_buf;
    const float* rows_f32 = src;
    float* transposed = nullptr;
    if (transpose) {
      transposed = format == WeightFormat::kF32 ? reinterpret_cast<float*>(alloc(size_t(out * in) * 4))
                                                : (row_buf.resize(size_t(out * in)), row_buf.data());
      constexpr int64_t B = 32;
      for (int64_t i0 = 0; i0 < in; i0 += B)
        for (int64_t o0 = 0; o0 < out; o0 += B)
          for (int64_t i = i0; i < std::min(in, i0 + B); ++i)
            for (int64_t o = o0; o < std::min(out, o0 + B); ++o) transposed[o * in + i] = src[i * out + o];
      rows_f32 = transposed;
    }
    if (format == WeightFormat::kF32) {
      w.data = transposed;
    } else if (format == WeightFormat::kBF16) {
      auto* q = reinterpret_cast<uint16_t*>(alloc(size_t(out * in) * 2));
      for (int64_t k = 0; k < out * in; ++k) q[k] = f32_to_bf16(rows_f32[k]);
      w.data = q;
    } else {
      auto* q = reinterpret_cast<int8_t*>(alloc(size_t(out * in)));
      auto* s = reinterpret_cast<float*>(alloc(size_t(out) * 4));
      for (int64_t r = 0; r < out; ++r) s[r] = quantize_row_int8(rows_f32 + r * in, in, q + r * in);
      w.data = q;
      w.scales = s;
    }
    // The file's copy is no longer read: let its pages leave the resident set.
    if (!copied) release(*t);
    return w;
  }

 private:
  Gpt2Model& m_;
  const SafetensorsFile& f_;
  std::string prefix_;
  bool copy_f32_;
  bool shared_;

  void release(const TensorView& t) {
    if (shared_ && f_.file()->owned()) return;
    f_.file()->release(t.file_offset, t.data.size());
  }
};

Gpt2Model::~Gpt2Model() = default;

Result<std::unique_ptr<Gpt2Model>> Gpt2Model::load(const std::string& dir, const Gpt2Options& options) {
  CPIPE_ASSIGN_OR_RETURN(Gpt2Config config, load_gpt2_config(dir + "/config.json"));
  CPIPE_ASSIGN_OR_RETURN(auto file, SafetensorsFile::open(dir + "/model.safetensors"));
  return from_file(std::move(file), config, options);
}

Result<std::unique_ptr<Gpt2Model>> Gpt2Model::from_file(std::shared_ptr<SafetensorsFile> file,
                                                        const Gpt2Config& config,
                                                        const Gpt2Options& options) {
  CPIPE_RETURN_IF_ERROR(config.validate());
  std::unique_ptr<Gpt2Model> m(new Gpt2Model());
  m->config_ = config;
  m->layer_begin_ = options.layer_begin;
  m->layer_end_ = options.layer_end < 0 ? config.n_layer : options.layer_end;
  if (m->layer_begin_ < 0 || m->layer_begin_ >= m->layer_end_ || m->layer_end_ > config.n_layer)
    return make_error(ErrorCode::INVALID_ARGUMENT,
                      "layer range [" + std::to_string(m->layer_begin_) + ", " + std::to_string(m->layer_end_) +
                          ") is empty or outside [0, " + std::to_string(config.n_layer) + ")");
  m->format_ = options.format;
  m->file_ = file;
  m->pool_ = options.pool ? options.pool : std::make_shared<ThreadPool>(options.threads);

  std::string prefix;
  if (file->find("transformer.wte.weight")) prefix = "transformer.";
  else if (!file->find("wte.weight"))
    return make_error(ErrorCode::MODEL_MISSING_TENSOR, "neither transformer.wte.weight nor wte.weight is in the file");
  Loader L(*m, *file, prefix);
  const int64_t C = config.n_embd, V = config.vocab_size, I = config.inner();
  const WeightFormat fmt = options.format;

  auto table = [&](const std::string& name, int64_t rows, int64_t cols) -> Result<const float*> {
    CPIPE_ASSIGN_OR_RETURN(const TensorView* t, L.tensor(name, {rows, cols}));
    bool copied;
    return L.as_f32(*t, &copied);
  };
  if (m->is_first()) {
    CPIPE_ASSIGN_OR_RETURN(m->wte_, table("wte.weight", V, C));
    CPIPE_ASSIGN_OR_RETURN(m->wpe_, table("wpe.weight", config.n_positions, C));
  }
  for (int64_t l = m->layer_begin_; l < m->layer_end_; ++l) {
    std::string h = "h.";
    h += std::to_string(l);
    h += '.';
    Layer y{};
    CPIPE_ASSIGN_OR_RETURN(y.ln1_w, L.vec(h + "ln_1.weight", C));
    CPIPE_ASSIGN_OR_RETURN(y.ln1_b, L.vec(h + "ln_1.bias", C));
    CPIPE_ASSIGN_OR_RETURN(y.ln2_w, L.vec(h + "ln_2.weight", C));
    CPIPE_ASSIGN_OR_RETURN(y.ln2_b, L.vec(h + "ln_2.bias", C));
    CPIPE_ASSIGN_OR_RETURN(y.qkv_b, L.vec(h + "attn.c_attn.bias", 3 * C));
    CPIPE_ASSIGN_OR_RETURN(y.attn_proj_b, L.vec(h + "attn.c_proj.bias", C));
    CPIPE_ASSIGN_OR_RETURN(y.fc_b, L.vec(h + "mlp.c_fc.bias", I));
    CPIPE_ASSIGN_OR_RETURN(y.mlp_proj_b, L.vec(h + "mlp.c_proj.bias", C));
    CPIPE_ASSIGN_OR_RETURN(y.qkv, L.matrix(h + "attn.c_attn.weight", 3 * C, C, true, fmt));
    CPIPE_ASSIGN_OR_RETURN(y.attn_proj, L.matrix(h + "attn.c_proj.weight", C, C, true, fmt));
    CPIPE_ASSIGN_OR_RETURN(y.fc, L.matrix(h + "mlp.c_fc.weight", I, C, true, fmt));
    CPIPE_ASSIGN_OR_RETURN(y.mlp_proj, L.matrix(h + "mlp.c_proj.weight", C, I, true, fmt));
    m->layers_.push_back(y);
  }
  if (m->is_last()) {
    CPIPE_ASSIGN_OR_RETURN(m->lnf_w_, L.vec("ln_f.weight", C));
    CPIPE_ASSIGN_OR_RETURN(m->lnf_b_, L.vec("ln_f.bias", C));
    // GPT-2 ties the LM head to wte; HF drops the duplicate when saving. A file that does carry
    // lm_head.weight (never prefixed) gets it used.
    const bool tied = !file->find("lm_head.weight");
    Loader head(*m, *file, tied ? prefix + "wte." : "lm_head.", !options.lm_head_in_place,
                /*shared=*/tied && m->is_first());
    CPIPE_ASSIGN_OR_RETURN(m->lm_head_, head.matrix("weight", V, C, false, fmt));
  }
  return m;
}

}  // namespace cpipe::model
