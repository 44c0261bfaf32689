// safetensors reading, validation and atomic writing (format described in safetensors.h).
//
// Validation order: header length against file size, JSON syntax, then each entry (dtype known,
// shape non-negative, offsets inside the data buffer and equal to numel * dtype size), then the
// entries sorted by offset must not overlap. Sizes are computed with overflow checks because the
// header is untrusted input.
#include "core/io/safetensors.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "core/base/error.h"
#include "core/base/fs.h"

namespace anvil::io {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr int64_t kHeaderLengthBytes = 8;
constexpr int64_t kHeaderAlignment = 8;
constexpr const char* kMetadataKey = "__metadata__";

[[noreturn]] void fail(const fs::path& path, const std::string& what) {
  throw CheckpointError(path.string() + ": " + what);
}

std::string read_whole_file(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) fail(path, "file not found");
  if (fs::is_directory(path, ec)) fail(path, "is a directory, expected a .safetensors file");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, std::string("cannot open: ") + std::strerror(errno));
  std::ostringstream os;
  os << in.rdbuf();
  if (in.bad()) fail(path, "read error");
  return os.str();
}

uint64_t read_le_u64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | uint64_t(static_cast<unsigned char>(p[i]));
  return v;
}

void append_le_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(char((v >> (8 * i)) & 0xffu));
}

// Returns the header JSON text and the size of the data buffer after it.
std::pair<std::string_view, int64_t> split_header(const std::string& bytes, const fs::path& path) {
  const int64_t file_size = int64_t(bytes.size());
  if (file_size < kHeaderLengthBytes)
    fail(path, "file is " + std::to_string(file_size) + " bytes, too short for the 8-byte header length");
  uint64_t header_len = read_le_u64(bytes.data());
  if (header_len > uint64_t(file_size - kHeaderLengthBytes))
    fail(path, "header length " + std::to_string(header_len) + " goes beyond the end of the file (" +
                   std::to_string(file_size) + " bytes); the file is truncated or not safetensors");
  std::string_view header(bytes.data() + kHeaderLengthBytes, size_t(header_len));
  return {header, file_size - kHeaderLengthBytes - int64_t(header_len)};
}

int64_t checked_nbytes(const Shape& shape, DType dtype, const fs::path& path, const std::string& name) {
  int64_t n = dtype_size(dtype);
  for (int64_t d : shape) {
    if (__builtin_mul_overflow(n, d, &n)) fail(path, "tensor '" + name + "': shape " + shape_str(shape) + " is too large");
  }
  return n;
}

SafetensorsEntry parse_entry(const std::string& name, const json& spec, int64_t data_size, const fs::path& path) {
  const std::string where = "tensor '" + name + "'";
  if (!spec.is_object()) fail(path, where + ": header entry is not an object");
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!spec.contains(key)) fail(path, where + ": header entry lacks \"" + key + "\"");
  SafetensorsEntry e;
  const json& dt = spec["dtype"];
  if (!dt.is_string()) fail(path, where + ": dtype is not a string");
  if (!dtype_from_safetensors_name(dt.get<std::string>(), &e.dtype))
    fail(path, where + ": unknown dtype '" + dt.get<std::string>() +
                   "' (supported: F32, F16, BF16, I32, I64, I8, U8)");
  const json& shape = spec["shape"];
  if (!shape.is_array()) fail(path, where + ": shape is not an array");
  for (const json& d : shape) {
    if (!d.is_number_integer() || d.get<int64_t>() < 0)
      fail(path, where + ": shape " + shape.dump() + " must hold non-negative integers");
    e.shape.push_back(d.get<int64_t>());
  }
  const json& offs = spec["data_offsets"];
  if (!offs.is_array() || offs.size() != 2 || !offs[0].is_number_unsigned() || !offs[1].is_number_unsigned())
    fail(path, where + ": data_offsets " + offs.dump() + " must be two non-negative integers");
  uint64_t begin = offs[0].get<uint64_t>(), end = offs[1].get<uint64_t>();
  if (begin > end || end > uint64_t(data_size))
    fail(path, where + ": data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                   "] out of range of the " + std::to_string(data_size) + "-byte data buffer");
  e.begin = int64_t(begin);
  e.end = int64_t(end);
  int64_t want = checked_nbytes(e.shape, e.dtype, path, name);
  if (e.end - e.begin != want)
    fail(path, where + ": data_offsets span " + std::to_string(e.end - e.begin) + " bytes but shape " +
                   shape_str(e.shape) + " of " + std::string(dtype_safetensors_name(e.dtype)) + " needs " +
                   std::to_string(want));
  return e;
}

struct ParsedHeader {
  std::map<std::string, SafetensorsEntry> entries;
  MetadataMap metadata;
  int64_t data_start = 0;  // byte offset of the data buffer in the file
};

ParsedHeader parse_header_text(std::string_view header_text, int64_t data_size, const fs::path& path) {
  json header;
  try {
    header = json::parse(header_text);
  } catch (const json::parse_error& e) {
    fail(path, std::string("malformed JSON header: ") + e.what());
  }
  if (!header.is_object()) fail(path, "JSON header is not an object");
  ParsedHeader out;
  out.data_start = kHeaderLengthBytes + int64_t(header_text.size());
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == kMetadataKey) {
      if (!it.value().is_object()) fail(path, "__metadata__ is not an object");
      for (auto m = it.value().begin(); m != it.value().end(); ++m) {
        if (!m.value().is_string()) fail(path, "__metadata__ value of '" + m.key() + "' is not a string");
        out.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    out.entries[it.key()] = parse_entry(it.key(), it.value(), data_size, path);
  }
  // Overlap check: sort by begin; each non-empty range must start at or after the previous end.
  std::vector<std::pair<const std::string*, const SafetensorsEntry*>> by_offset;
  for (const auto& [name, e] : out.entries) by_offset.push_back({&name, &e});
  std::sort(by_offset.begin(), by_offset.end(),
            [](const auto& a, const auto& b) { return a.second->begin < b.second->begin; });
  const std::string* prev_name = nullptr;
  int64_t prev_end = 0;
  for (const auto& [name, e] : by_offset) {
    if (e->begin == e->end) continue;
    if (prev_name && e->begin < prev_end)
      fail(path, "tensor '" + *name + "' overlaps tensor '" + *prev_name + "' in the data buffer (offset " +
                     std::to_string(e->begin) + " < " + std::to_string(prev_end) + ")");
    prev_name = name;
    prev_end = e->end;
  }
  return out;
}

ParsedHeader parse_header(const std::string& bytes, const fs::path& path) {
  auto [header_text, data_size] = split_header(bytes, path);
  return parse_header_text(header_text, data_size, path);
}

}  // namespace

SafetensorsContents parse_safetensors(const std::string& bytes, const fs::path& path) {
  ParsedHeader header = parse_header(bytes, path);
  SafetensorsContents out;
  out.metadata = std::move(header.metadata);
  for (const auto& [name, e] : header.entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype);
    if (e.end > e.begin) std::memcpy(t.data_ptr(), bytes.data() + header.data_start + e.begin, size_t(e.end - e.begin));
    t.set_name(name);
    out.tensors.emplace(name, std::move(t));
  }
  return out;
}

SafetensorsContents read_safetensors(const fs::path& path) { return parse_safetensors(read_whole_file(path), path); }

std::map<std::string, SafetensorsEntry> read_safetensors_header(const fs::path& path) {
  // Read the length first so that a large file's data is never loaded.
  std::error_code ec;
  if (!fs::exists(path, ec)) fail(path, "file not found");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, std::string("cannot open: ") + std::strerror(errno));
  const int64_t file_size = int64_t(fs::file_size(path, ec));
  char len_bytes[kHeaderLengthBytes] = {};
  if (file_size < kHeaderLengthBytes || !in.read(len_bytes, kHeaderLengthBytes))
    fail(path, "file is " + std::to_string(file_size) + " bytes, too short for the 8-byte header length");
  uint64_t header_len = read_le_u64(len_bytes);
  if (header_len > uint64_t(file_size - kHeaderLengthBytes))
    fail(path, "header length " + std::to_string(header_len) + " goes beyond the end of the file (" +
                   std::to_string(file_size) + " bytes); the file is truncated or not safetensors");
  std::string header_text(size_t(header_len), '\0');
  if (!in.read(header_text.data(), std::streamsize(header_len))) fail(path, "read error in header");
  return parse_header_text(header_text, file_size - kHeaderLengthBytes - int64_t(header_len), path).entries;
}

std::string serialize_safetensors(const TensorMap& tensors, const MetadataMap& metadata) {
  json header = json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  std::vector<Tensor> host;  // contiguous CPU copies, in name order
  int64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    ANVIL_ASSERT(t.defined(), "tensor '", name, "' is undefined");
    Tensor h = t.detach().to(Device::cpu()).contiguous();
    json shape = json::array();
    for (int64_t d : h.shape()) shape.push_back(d);
    header[name] = {{"dtype", std::string(dtype_safetensors_name(h.dtype()))},
                    {"shape", shape},
                    {"data_offsets", {offset, offset + h.nbytes()}}};
    offset += h.nbytes();
    host.push_back(h);
  }
  std::string header_text = header.dump();
  while (header_text.size() % kHeaderAlignment != 0) header_text.push_back(' ');
  std::string out;
  out.reserve(size_t(kHeaderLengthBytes) + header_text.size() + size_t(offset));
  append_le_u64(out, header_text.size());
  out += header_text;
  for (const Tensor& h : host)
    if (h.nbytes() > 0) out.append(static_cast<const char*>(h.data_ptr()), size_t(h.nbytes()));
  return out;
}

void write_safetensors(const fs::path& path, const TensorMap& tensors, const MetadataMap& metadata) {
  write_file_atomic(path, serialize_safetensors(tensors, metadata));
}

}  // namespace anvil::io
