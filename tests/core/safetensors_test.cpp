// safetensors: round trips for every supported dtype, byte-level layout, the golden checkpoint, and
// each kind of malformed file producing a CheckpointError that names the file and the tensor.
#include "core/io/safetensors.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/support/test_paths.h"

namespace anvil::io {
namespace {

namespace fs = std::filesystem;

std::string le_u64(uint64_t v) {
  std::string s;
  for (int i = 0; i < 8; ++i) s.push_back(char((v >> (8 * i)) & 0xff));
  return s;
}

// Writes a file made of an 8-byte length, `header` and `data` (the length may be overridden).
fs::path write_raw(const fs::path& path, const std::string& header, const std::string& data,
                   int64_t header_len_override = -1) {
  std::ofstream out(path, std::ios::binary);
  out << le_u64(header_len_override >= 0 ? uint64_t(header_len_override) : header.size()) << header << data;
  return path;
}

// Expects read_safetensors(path) to throw a CheckpointError whose message holds every fragment.
void expect_checkpoint_error(const fs::path& path, const std::vector<std::string>& fragments) {
  try {
    read_safetensors(path);
    FAIL() << "no error reading " << path;
  } catch (const CheckpointError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path.string()), std::string::npos) << msg;
    for (const auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << "'" << f << "' not in: " << msg;
  }
}

TEST(Safetensors, RoundTripsEveryDtypeAndMetadata) {
  Generator gen(7);
  TensorMap in;
  in["a.f32"] = Tensor::randn({3, 5}, gen);
  in["b.f16"] = Tensor::randn({4}, gen, 1.0f, DType::F16);
  in["c.bf16"] = Tensor::randn({2, 2, 2}, gen, 1.0f, DType::BF16);
  in["d.i32"] = Tensor::from_ints({-3, 0, 7, 2147483647}, {4}, DType::I32);
  in["e.i64"] = Tensor::from_ints({-5, 1LL << 40}, {2, 1}, DType::I64);
  in["f.i8"] = Tensor::from_ints({-128, 127, 3}, {3}, DType::I8);
  in["g.u8"] = Tensor::from_ints({0, 255}, {2}, DType::U8);
  in["h.scalar"] = Tensor::from_vector({2.5f}, {});
  in["i.empty"] = Tensor::zeros({0, 4});
  in["j.strided"] = Tensor::randn({3, 4}, gen).transpose(0, 1);  // non-contiguous view
  const fs::path path = test::scratch_dir() / "all.safetensors";
  write_safetensors(path, in, {{"format", "pt"}, {"note", "hello"}});

  SafetensorsContents out = read_safetensors(path);
  ASSERT_EQ(out.tensors.size(), in.size());
  EXPECT_EQ(out.metadata.at("format"), "pt");
  EXPECT_EQ(out.metadata.at("note"), "hello");
  for (const auto& [name, t] : in) {
    const Tensor& r = out.tensors.at(name);
    EXPECT_EQ(r.dtype(), t.dtype()) << name;
    EXPECT_EQ(r.shape(), t.shape()) << name;
    if (is_floating(t.dtype()))
      EXPECT_EQ(r.to_f32_vector(), t.to_f32_vector()) << name;  // bit-exact through f32 for 16-bit types
    else
      EXPECT_EQ(r.to_i64_vector(), t.to_i64_vector()) << name;
  }
}

TEST(Safetensors, LayoutIsAlignedSortedAndReadableByTheSpec) {
  TensorMap in{{"z", Tensor::from_vector({1, 2, 3}, {3})}, {"a", Tensor::from_ints({9}, {1}, DType::I64)}};
  const std::string bytes = serialize_safetensors(in);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | uint8_t(bytes[size_t(i)]);
  EXPECT_EQ(n % 8, 0u) << "header padded to 8 bytes";
  auto header = nlohmann::json::parse(bytes.substr(8, n));
  EXPECT_EQ(header["a"]["dtype"], "I64");
  EXPECT_EQ(header["a"]["data_offsets"], nlohmann::json::array({0, 8}));  // name order
  EXPECT_EQ(header["z"]["data_offsets"], nlohmann::json::array({8, 20}));
  EXPECT_EQ(bytes.size(), 8 + n + 20);
  float z1 = 0;
  std::memcpy(&z1, bytes.data() + 8 + n + 8 + 4, 4);
  EXPECT_EQ(z1, 2.0f);
}

TEST(Safetensors, WriteIsAtomicAndOverwrites) {
  const fs::path dir = test::scratch_dir();
  const fs::path path = dir / "w.safetensors";
  write_safetensors(path, {{"x", Tensor::ones({2})}});
  write_safetensors(path, {{"y", Tensor::zeros({3})}});
  auto out = read_safetensors(path);
  EXPECT_EQ(out.tensors.count("x"), 0u);
  EXPECT_EQ(out.tensors.at("y").shape(), Shape({3}));
  int files = 0;
  for (auto& e : fs::directory_iterator(dir)) files += e.is_regular_file();
  EXPECT_EQ(files, 1) << "no temp file left behind";
  // A missing folder is created; a path under a regular file cannot be written.
  write_safetensors(dir / "new_dir" / "f.safetensors", {{"x", Tensor::ones({1})}});
  EXPECT_EQ(read_safetensors(dir / "new_dir" / "f.safetensors").tensors.count("x"), 1u);
  EXPECT_THROW(write_safetensors(path / "f.safetensors", {{"x", Tensor::ones({1})}}), RuntimeFailure);
}

TEST(Safetensors, ReadsGoldenCheckpointAndHeaderOnly) {
  const fs::path path = test::shared_dir() / "data/golden/gpt2_tiny/model.safetensors";
  auto contents = read_safetensors(path);
  EXPECT_EQ(contents.metadata.at("format"), "pt");
  EXPECT_EQ(contents.tensors.size(), 2u + 2u + 3u * 12u);  // wte, wpe, ln_f x2, 12 per block
  EXPECT_EQ(contents.tensors.at("transformer.h.0.attn.c_attn.weight").shape(), Shape({48, 144}));
  auto header = read_safetensors_header(path);
  EXPECT_EQ(header.size(), contents.tensors.size());
  EXPECT_EQ(header.at("transformer.wte.weight").shape, Shape({384, 48}));
  EXPECT_EQ(header.at("transformer.wte.weight").end - header.at("transformer.wte.weight").begin, 384 * 48 * 4);
}

TEST(Safetensors, MissingFile) {
  expect_checkpoint_error(test::scratch_dir() / "nope.safetensors", {"not found"});
}

TEST(Safetensors, TruncatedFiles) {
  const fs::path dir = test::scratch_dir();
  // Shorter than the 8-byte length.
  {
    std::ofstream(dir / "tiny.safetensors", std::ios::binary) << "abc";
    expect_checkpoint_error(dir / "tiny.safetensors", {"too short"});
  }
  // A real file cut in its data part: the tensor whose bytes are gone is named.
  const std::string full = serialize_safetensors({{"weight", Tensor::ones({16})}});
  {
    std::ofstream(dir / "cut.safetensors", std::ios::binary) << full.substr(0, full.size() - 10);
    expect_checkpoint_error(dir / "cut.safetensors", {"weight", "out of range"});
  }
  // Cut inside the header: the header length points past the end.
  {
    std::ofstream(dir / "cut_header.safetensors", std::ios::binary) << full.substr(0, 20);
    expect_checkpoint_error(dir / "cut_header.safetensors", {"header length", "beyond the end"});
  }
}

TEST(Safetensors, MalformedHeaders) {
  const fs::path dir = test::scratch_dir();
  const std::string data(16, '\0');
  expect_checkpoint_error(write_raw(dir / "json.safetensors", "{\"w\": {\"dtype\": ", data), {"malformed JSON"});
  expect_checkpoint_error(
      write_raw(dir / "dtype.safetensors", R"({"w": {"dtype": "Q4", "shape": [4], "data_offsets": [0, 16]}})", data),
      {"'w'", "unknown dtype 'Q4'"});
  expect_checkpoint_error(
      write_raw(dir / "range.safetensors", R"({"w": {"dtype": "F32", "shape": [8], "data_offsets": [0, 32]}})", data),
      {"'w'", "out of range"});
  expect_checkpoint_error(
      write_raw(dir / "size.safetensors", R"({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 16]}})", data),
      {"'w'", "needs 12"});
  expect_checkpoint_error(
      write_raw(dir / "overlap.safetensors",
                R"({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 12]},
                    "b": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}})",
                data),
      {"'b'", "overlaps", "'a'"});
  expect_checkpoint_error(
      write_raw(dir / "keys.safetensors", R"({"w": {"dtype": "F32", "shape": [4]}})", data), {"'w'", "data_offsets"});
  expect_checkpoint_error(
      write_raw(dir / "meta.safetensors", R"({"__metadata__": {"n": 3}})", data), {"__metadata__", "'n'"});
  expect_checkpoint_error(write_raw(dir / "huge.safetensors", "{}", data, int64_t(1) << 40), {"beyond the end"});
}

}  // namespace
}  // namespace anvil::io
