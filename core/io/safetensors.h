// safetensors files: read into named CPU tensors, write atomically.
//
// Layout: an 8-byte little-endian header length N, then N bytes of JSON
//   {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {"key": "string value"}}
// then the data buffer; offsets are relative to the start of that buffer. We read the whole file
// (checkpoints we handle fit in memory) and copy each tensor into its own contiguous storage, so
// the returned tensors own their bytes and can be modified freely.
//
// Every problem with a file is an anvil::CheckpointError whose message starts with the path and
// names the tensor when one is involved: missing file, header length beyond the file, malformed
// JSON, unknown dtype, offsets out of range / overlapping / not matching shape * dtype size.
// Writing pads the header with spaces to a multiple of 8 bytes (so the data buffer is aligned, as
// the reference implementation does) and lays the tensors out in name order.
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "core/tensor/tensor.h"

namespace anvil::io {

using TensorMap = std::map<std::string, Tensor>;
using MetadataMap = std::map<std::string, std::string>;

struct SafetensorsContents {
  TensorMap tensors;     // contiguous CPU tensors in the file's dtypes
  MetadataMap metadata;  // the optional "__metadata__" block
};

// One header entry, without the data (for callers that only need names, dtypes and shapes).
struct SafetensorsEntry {
  DType dtype = DType::F32;
  Shape shape;
  int64_t begin = 0;  // byte offsets into the data buffer
  int64_t end = 0;
};

SafetensorsContents read_safetensors(const std::filesystem::path& path);

// Parses a whole file image (header + data); `path` is only used in messages.
SafetensorsContents parse_safetensors(const std::string& bytes, const std::filesystem::path& path);

// Reads and validates just the header (the data is not loaded).
std::map<std::string, SafetensorsEntry> read_safetensors_header(const std::filesystem::path& path);

// Serializes tensors (any device, any strides; copied to contiguous host bytes) and metadata.
std::string serialize_safetensors(const TensorMap& tensors, const MetadataMap& metadata = {});

// Writes atomically: a temp file in the same folder, fsync, rename over `path`, fsync the folder.
// Throws RuntimeFailure naming the path when the disk refuses.
void write_safetensors(const std::filesystem::path& path, const TensorMap& tensors,
                       const MetadataMap& metadata = {});


}  // namespace anvil::io
