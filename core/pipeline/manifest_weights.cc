// The weight hash scheme (see manifest_weights.h and docs/manifest.md).
#include "core/pipeline/manifest_weights.h"

#include <algorithm>

#include "core/crypto/hash.h"

namespace cpipe::pipeline {
namespace {

void put_field(crypto::Sha256& h, std::string_view field) {
  uint8_t len[4];
  store_u32_le(len, uint32_t(field.size()));
  h.update(ByteSpan(len, 4));
  h.update(as_bytes(field));
}

std::vector<const WeightTensor*> sorted_by_name(std::span<const WeightTensor> tensors) {
  std::vector<const WeightTensor*> order;
  for (const WeightTensor& t : tensors) order.push_back(&t);
  std::sort(order.begin(), order.end(),
            [](const WeightTensor* a, const WeightTensor* b) { return a->name < b->name; });
  return order;
}

}  // namespace

std::string weight_tensor_hash(const WeightTensor& tensor) {
  crypto::Sha256 h;
  put_field(h, kWeightHashDomain);
  put_field(h, tensor.name);
  put_field(h, tensor.dtype);
  uint8_t buf[8];
  store_u32_le(buf, uint32_t(tensor.shape.size()));
  h.update(ByteSpan(buf, 4));
  for (uint64_t dim : tensor.shape) {
    store_u64_le(buf, dim);
    h.update(ByteSpan(buf, 8));
  }
  store_u64_le(buf, tensor.data.size());
  h.update(ByteSpan(buf, 8));
  h.update(tensor.data);
  return hex_encode(h.finish());
}

std::vector<std::string> stage_weight_hashes(std::span<const WeightTensor> tensors) {
  std::vector<std::string> out;
  for (const WeightTensor* t : sorted_by_name(tensors)) out.push_back(weight_tensor_hash(*t));
  return out;
}

Status check_stage_weights(const StageSpec& stage, bool require,
                           std::span<const WeightTensor> tensors) {
  const std::string who = "stage " + std::to_string(stage.stage_idx);
  if (stage.weight_hashes.empty()) {
    if (!require) return Status::Ok();
    return make_error(ErrorCode::PIPELINE_WEIGHT_HASH_MISMATCH,
                      who + ": weight hashes are required but the manifest pins none");
  }
  std::vector<const WeightTensor*> order = sorted_by_name(tensors);
  if (order.size() != stage.weight_hashes.size())
    return make_error(ErrorCode::PIPELINE_WEIGHT_HASH_MISMATCH,
                      who + " loads " + std::to_string(order.size()) +
                          " tensors but the manifest pins " +
                          std::to_string(stage.weight_hashes.size()) + " hashes");
  for (size_t i = 0; i < order.size(); ++i) {
    if (weight_tensor_hash(*order[i]) != stage.weight_hashes[i])
      return make_error(ErrorCode::PIPELINE_WEIGHT_HASH_MISMATCH,
                        who + ": tensor '" + order[i]->name + "' does not match weight_hashes[" +
                            std::to_string(i) + "]");
  }
  return Status::Ok();
}

}  // namespace cpipe::pipeline
