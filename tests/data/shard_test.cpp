// Token shards (write/read, corrupt files, llm.c format, globs) and data preparation (text,
// fortune and JSONL inputs, the val split, shard sizes) with a byte-per-token encoder.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <random>
#include <set>

#include "core/base/error.h"
#include "data/bpe/tokenizer.h"
#include "data/shards/prepare.h"
#include "data/shards/shard.h"
#include "tests/support/test_paths.h"

namespace anvil::data {
namespace {

namespace fs = std::filesystem;

std::vector<uint32_t> random_tokens(int64_t n, uint32_t max_id, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint32_t> out(static_cast<size_t>(n));
  for (auto& t : out) t = uint32_t(rng() % (uint64_t(max_id) + 1));
  return out;
}

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}

// Expects fn to throw DataError whose message contains every needle.
template <typename Fn>
void expect_data_error(Fn fn, const std::vector<std::string>& needles) {
  try {
    fn();
    FAIL() << "expected anvil::DataError";
  } catch (const DataError& e) {
    for (const auto& needle : needles)
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
          << "message '" << e.what() << "' lacks '" << needle << "'";
  }
}

TEST(Shard, RoundTripU16) {
  fs::path dir = test::scratch_dir();
  auto tokens = random_tokens(1000, 65535, 1);
  tokens[0] = 65535;  // the widest u16 id survives
  write_shard(dir / "a.bin", tokens, 2);
  EXPECT_EQ(fs::file_size(dir / "a.bin"), uint64_t(kShardHeaderBytes + 2 * 1000));
  TokenShard shard = TokenShard::open(dir / "a.bin");
  EXPECT_EQ(shard.format(), ShardFormat::kAnvil);
  EXPECT_EQ(shard.token_bytes(), 2);
  EXPECT_EQ(shard.size(), 1000);
  EXPECT_EQ(shard.to_vector(), tokens);
  EXPECT_EQ(shard[999], tokens[999]);
  std::vector<uint32_t> middle(10);
  shard.read(500, 10, middle.data());
  EXPECT_EQ(middle, std::vector<uint32_t>(tokens.begin() + 500, tokens.begin() + 510));
  // No temp file is left behind by the atomic write.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
}

TEST(Shard, RoundTripU32AndEmpty) {
  fs::path dir = test::scratch_dir();
  auto tokens = random_tokens(777, 200000, 2);
  tokens[3] = 0xFFFFFFFFu;
  write_shard(dir / "b.bin", tokens, 4);
  TokenShard shard = TokenShard::open(dir / "b.bin");
  EXPECT_EQ(shard.token_bytes(), 4);
  EXPECT_EQ(shard.to_vector(), tokens);

  write_shard(dir / "empty.bin", {}, 2);
  EXPECT_EQ(TokenShard::open(dir / "empty.bin").size(), 0);
}

TEST(Shard, U16RejectsWideIds) {
  fs::path dir = test::scratch_dir();
  std::vector<uint32_t> tokens = {1, 70000};
  expect_data_error([&] { write_shard(dir / "w.bin", tokens, 2); }, {"w.bin", "70000"});
  EXPECT_FALSE(fs::exists(dir / "w.bin"));
}

TEST(Shard, MoveKeepsMapping) {
  fs::path dir = test::scratch_dir();
  auto tokens = random_tokens(50, 1000, 3);
  write_shard(dir / "m.bin", tokens, 2);
  TokenShard a = TokenShard::open(dir / "m.bin");
  TokenShard b = std::move(a);
  EXPECT_EQ(a.size(), 0);
  EXPECT_EQ(b.to_vector(), tokens);
}

TEST(Shard, MissingFile) {
  fs::path dir = test::scratch_dir();
  expect_data_error([&] { TokenShard::open(dir / "nope.bin"); }, {"nope.bin"});
}

TEST(Shard, BadMagic) {
  fs::path dir = test::scratch_dir();
  write_shard(dir / "m.bin", random_tokens(10, 100, 4), 2);
  std::string bytes = read_bytes(dir / "m.bin");
  bytes[0] = 'X';
  write_bytes(dir / "m.bin", bytes);
  expect_data_error([&] { TokenShard::open(dir / "m.bin"); }, {"m.bin", "magic"});
}

TEST(Shard, Truncated) {
  fs::path dir = test::scratch_dir();
  write_shard(dir / "t.bin", random_tokens(100, 100, 5), 2);
  std::string bytes = read_bytes(dir / "t.bin");
  write_bytes(dir / "t.bin", bytes.substr(0, bytes.size() - 3));
  expect_data_error([&] { TokenShard::open(dir / "t.bin"); },
                    {"t.bin", "truncated", std::to_string(bytes.size() - 3)});
  write_bytes(dir / "h.bin", bytes.substr(0, 20));  // not even a whole header
  expect_data_error([&] { TokenShard::open(dir / "h.bin"); }, {"h.bin", "truncated"});
  write_bytes(dir / "long.bin", bytes + "xy");  // trailing garbage
  expect_data_error([&] { TokenShard::open(dir / "long.bin"); }, {"long.bin"});
}

TEST(Shard, ChecksumMismatch) {
  fs::path dir = test::scratch_dir();
  write_shard(dir / "c.bin", random_tokens(100, 100, 6), 2);
  std::string bytes = read_bytes(dir / "c.bin");
  bytes[kShardHeaderBytes + 10] ^= 0x01;  // flip one bit of one token
  write_bytes(dir / "c.bin", bytes);
  expect_data_error([&] { TokenShard::open(dir / "c.bin"); }, {"c.bin", "checksum"});
  // Opening without verification still works (the loader's opt-out for huge datasets).
  EXPECT_EQ(TokenShard::open(dir / "c.bin", /*verify_checksum=*/false).size(), 100);
}

TEST(Shard, UnknownVersionAndWidth) {
  fs::path dir = test::scratch_dir();
  write_shard(dir / "v.bin", random_tokens(10, 100, 7), 2);
  std::string bytes = read_bytes(dir / "v.bin");
  std::string bad_version = bytes;
  bad_version[8] = 7;
  write_bytes(dir / "v.bin", bad_version);
  expect_data_error([&] { TokenShard::open(dir / "v.bin"); }, {"v.bin", "version 7"});
  std::string bad_width = bytes;
  bad_width[12] = 3;
  write_bytes(dir / "w.bin", bad_width);
  expect_data_error([&] { TokenShard::open(dir / "w.bin"); }, {"w.bin", "token_bytes"});
}

// llm.c's layout, written by hand: 256 int32 header then u16 ids.
void write_llmc(const fs::path& path, const std::vector<uint16_t>& tokens, int32_t magic,
                int32_t version, int32_t count) {
  std::vector<int32_t> header(256, 0);
  header[0] = magic;
  header[1] = version;
  header[2] = count;
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(header.data()), 256 * 4);
  out.write(reinterpret_cast<const char*>(tokens.data()), std::streamsize(tokens.size() * 2));
}

TEST(Shard, ReadsLlmcFormat) {
  fs::path dir = test::scratch_dir();
  std::vector<uint16_t> tokens = {50256, 15496, 995, 0, 65535, 7};
  write_llmc(dir / "llmc.bin", tokens, 20240520, 1, int32_t(tokens.size()));
  TokenShard shard = TokenShard::open(dir / "llmc.bin");
  EXPECT_EQ(shard.format(), ShardFormat::kLlmc);
  EXPECT_EQ(shard.token_bytes(), 2);
  ASSERT_EQ(shard.size(), int64_t(tokens.size()));
  for (size_t i = 0; i < tokens.size(); ++i) EXPECT_EQ(shard[int64_t(i)], tokens[i]);

  write_llmc(dir / "short.bin", tokens, 20240520, 1, 10);  // header claims more than is there
  expect_data_error([&] { TokenShard::open(dir / "short.bin"); }, {"short.bin", "truncated"});
  write_llmc(dir / "ver.bin", tokens, 20240520, 9, int32_t(tokens.size()));
  expect_data_error([&] { TokenShard::open(dir / "ver.bin"); }, {"ver.bin", "version 9"});
}

TEST(Glob, SortedAndEmpty) {
  fs::path dir = test::scratch_dir();
  for (const char* name : {"train_000002.bin", "train_000000.bin", "train_000001.bin", "val.bin"})
    write_shard(dir / name, std::vector<uint32_t>{1, 2, 3}, 2);
  auto paths = expand_glob((dir / "train_*.bin").string());
  ASSERT_EQ(paths.size(), 3u);
  EXPECT_EQ(paths[0].filename(), "train_000000.bin");
  EXPECT_EQ(paths[2].filename(), "train_000002.bin");
  EXPECT_EQ(expand_glob((dir / "val.bin").string()).size(), 1u);
  const std::string pattern = (dir / "nothing_*.bin").string();
  expect_data_error([&] { expand_glob(pattern); }, {pattern});
}

// ---- Preparation ----

// One token per byte; a vocabulary of 256 bytes plus the end-of-text id 256.
constexpr uint32_t kEot = 256;
std::vector<uint32_t> byte_encode(std::string_view text) {
  return std::vector<uint32_t>(text.begin(), text.end());
}
// Splits a token stream back into documents at kEot.
std::vector<std::string> decode_documents(const std::vector<uint32_t>& tokens) {
  std::vector<std::string> docs;
  std::string current;
  for (uint32_t t : tokens) {
    if (t == kEot) {
      docs.push_back(current);
      current.clear();
    } else {
      current += char(t);
    }
  }
  EXPECT_TRUE(current.empty()) << "stream does not end with the end-of-text id";
  return docs;
}
std::vector<uint32_t> read_split(const fs::path& dir, const std::string& split) {
  std::vector<uint32_t> all;
  for (const auto& path : expand_glob((dir / (split + "_*.bin")).string())) {
    auto part = TokenShard::open(path).to_vector();
    all.insert(all.end(), part.begin(), part.end());
  }
  return all;
}

PrepareOptions byte_options(const fs::path& dir, std::vector<std::string> inputs) {
  PrepareOptions o;
  o.inputs = std::move(inputs);
  o.output_dir = dir / "out";
  o.vocab_size = 257;
  o.eot_id = kEot;
  return o;
}

TEST(Prepare, TextSplitsOnBlankLines) {
  fs::path dir = test::scratch_dir();
  write_bytes(dir / "play.txt", "\nFIRST:\nline one\nline two\n\n\n  \nSECOND:\r\nhi\r\n\r\nTHIRD\n");
  PrepareOptions o = byte_options(dir, {(dir / "play.txt").string()});
  o.val_fraction = 0.0;
  PrepareStats stats = prepare_shards(o, byte_encode);
  EXPECT_EQ(stats.documents, 3);
  EXPECT_EQ(stats.val_documents, 0);
  EXPECT_EQ(stats.token_bytes, 2);
  auto docs = decode_documents(read_split(o.output_dir, "train"));
  EXPECT_EQ(docs, (std::vector<std::string>{"FIRST:\nline one\nline two", "SECOND:\nhi", "THIRD"}));
  EXPECT_EQ(stats.train_tokens, int64_t(read_split(o.output_dir, "train").size()));
}

TEST(Prepare, FortuneAutoDetected) {
  fs::path dir = test::scratch_dir();
  write_bytes(dir / "fortunes", "A penny saved.\n\nIs a penny.\n%\nSecond one\n%\n%\nThird\n%\n");
  PrepareOptions o = byte_options(dir, {(dir / "fortunes").string()});
  o.val_fraction = 0.0;
  PrepareStats stats = prepare_shards(o, byte_encode);
  EXPECT_EQ(stats.documents, 3);
  auto docs = decode_documents(read_split(o.output_dir, "train"));
  // A blank line inside an entry does not split it.
  EXPECT_EQ(docs, (std::vector<std::string>{"A penny saved.\n\nIs a penny.", "Second one", "Third"}));
}

TEST(Prepare, JsonlAndMalformedLine) {
  fs::path dir = test::scratch_dir();
  write_bytes(dir / "a.jsonl", "{\"text\": \"hello\"}\n\n{\"text\": \"wor\\nld\", \"id\": 3}\n");
  PrepareOptions o = byte_options(dir, {(dir / "a.jsonl").string()});
  o.val_fraction = 0.0;
  EXPECT_EQ(prepare_shards(o, byte_encode).documents, 2);
  EXPECT_EQ(decode_documents(read_split(o.output_dir, "train")),
            (std::vector<std::string>{"hello", "wor\nld"}));

  write_bytes(dir / "bad.jsonl", "{\"text\": \"ok\"}\n{\"text\": \"unterminated}\n");
  o.inputs = {(dir / "bad.jsonl").string()};
  expect_data_error([&] { prepare_shards(o, byte_encode); }, {"bad.jsonl:2"});
  write_bytes(dir / "field.jsonl", "{\"text\": \"ok\"}\n\n{\"body\": \"no text\"}\n");
  o.inputs = {(dir / "field.jsonl").string()};
  expect_data_error([&] { prepare_shards(o, byte_encode); }, {"field.jsonl:3", "\"text\""});
}

TEST(Prepare, ValSplitShardSizesAndDeterminism) {
  fs::path dir = test::scratch_dir();
  std::string first_half, second_half;
  std::vector<std::string> expected;
  for (int i = 0; i < 40; ++i) {
    expected.push_back("document number " + std::to_string(i));
    (i < 20 ? first_half : second_half) += expected.back() + "\n\n";
  }
  write_bytes(dir / "a.txt", first_half);
  write_bytes(dir / "b.txt", second_half);
  PrepareOptions o = byte_options(dir, {(dir / "*.txt").string(), (dir / "a.txt").string()});
  o.val_fraction = 0.1;
  o.shard_tokens = 100;
  o.threads = 3;
  PrepareStats stats = prepare_shards(o, byte_encode);
  EXPECT_EQ(stats.documents, 40);  // a.txt named twice is read once
  EXPECT_EQ(stats.val_documents, 4);
  EXPECT_EQ(stats.train_documents, 36);

  auto train = read_split(o.output_dir, "train");
  auto val = read_split(o.output_dir, "val");
  EXPECT_EQ(int64_t(train.size()), stats.train_tokens);
  EXPECT_EQ(int64_t(val.size()), stats.val_tokens);
  auto train_shards = expand_glob((o.output_dir / "train_*.bin").string());
  EXPECT_EQ(int64_t(train_shards.size()), stats.train_shards);
  EXPECT_EQ(stats.train_shards, (stats.train_tokens + 99) / 100);
  for (size_t i = 0; i + 1 < train_shards.size(); ++i)
    EXPECT_EQ(TokenShard::open(train_shards[i]).size(), 100);

  // Every document lands in exactly one split, in input order, val spread out (not the tail).
  auto train_docs = decode_documents(train);
  auto val_docs = decode_documents(val);
  std::vector<std::string> merged;
  size_t ti = 0, vi = 0;
  for (const auto& doc : expected) {
    if (vi < val_docs.size() && val_docs[vi] == doc) {
      merged.push_back(val_docs[vi++]);
    } else if (ti < train_docs.size() && train_docs[ti] == doc) {
      merged.push_back(train_docs[ti++]);
    }
  }
  EXPECT_EQ(merged, expected);
  // The documented rule: every (N / n_val)-th document, here 9, 19, 29, 39.
  EXPECT_EQ(val_docs, (std::vector<std::string>{expected[9], expected[19], expected[29], expected[39]}));

  // Same inputs, one thread, smaller shards into the same folder: same tokens, stale shards gone.
  o.threads = 1;
  o.shard_tokens = 1000;
  PrepareStats again = prepare_shards(o, byte_encode);
  EXPECT_EQ(again.train_shards, 1);
  EXPECT_EQ(expand_glob((o.output_dir / "train_*.bin").string()).size(), 1u);
  EXPECT_EQ(read_split(o.output_dir, "train"), train);
  EXPECT_EQ(read_split(o.output_dir, "val"), val);
}

TEST(Prepare, TwoDocumentsGiveOneToVal) {
  fs::path dir = test::scratch_dir();
  write_bytes(dir / "two.txt", "one\n\ntwo\n");
  PrepareOptions o = byte_options(dir, {(dir / "two.txt").string()});
  o.val_fraction = 0.001;
  PrepareStats stats = prepare_shards(o, byte_encode);
  EXPECT_EQ(stats.val_documents, 1);
  EXPECT_EQ(stats.train_documents, 1);
}

TEST(Prepare, WideVocabularyUsesU32) {
  fs::path dir = test::scratch_dir();
  write_bytes(dir / "x.txt", "abc\n");
  PrepareOptions o = byte_options(dir, {(dir / "x.txt").string()});
  o.vocab_size = 100000;
  o.eot_id = 99999;
  PrepareStats stats = prepare_shards(o, byte_encode);
  EXPECT_EQ(stats.token_bytes, 4);
  EXPECT_EQ(read_split(o.output_dir, "train"), (std::vector<uint32_t>{'a', 'b', 'c', 99999}));
}

TEST(Prepare, BadInputs) {
  fs::path dir = test::scratch_dir();
  PrepareOptions o = byte_options(dir, {(dir / "missing_*.txt").string()});
  expect_data_error([&] { prepare_shards(o, byte_encode); }, {"missing_*.txt"});
  write_bytes(dir / "blank.txt", "\n\n   \n");
  o.inputs = {(dir / "blank.txt").string()};
  expect_data_error([&] { prepare_shards(o, byte_encode); }, {"no documents"});
  o.val_fraction = 1.0;
  EXPECT_THROW(prepare_shards(o, byte_encode), ConfigError);
  EXPECT_THROW(parse_input_format("csv"), ConfigError);
  EXPECT_EQ(parse_input_format("fortune"), InputFormat::kFortune);
}

// `anvil prepare` end to end: trains a small BPE, writes shards the loader-side reader accepts,
// and maps a malformed JSONL line to exit code 2 naming file:line. Skips when the binary is not
// built (this test does not depend on the anvil target).
TEST(PrepareCli, TrainsTokenizerAndWritesShards) {
  if (!fs::exists(test::anvil_binary())) GTEST_SKIP() << "anvil binary not built";
  fs::path dir = test::scratch_dir();
  std::string corpus;
  for (int i = 0; i < 30; ++i)
    corpus += "{\"text\": \"the quick brown fox " + std::to_string(i) + " jumps over the lazy dog\"}\n";
  write_bytes(dir / "c.jsonl", corpus);
  const std::string base = test::anvil_binary().string() + " prepare --input " +
                           (dir / "c.jsonl").string() + " --output " + (dir / "out").string() +
                           " --tokenizer " + (dir / "tok").string();
  auto result = test::run_command(base + " --train-tokenizer 300 --val-fraction 0.1");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("prepared 30 documents"), std::string::npos) << result.output;
  EXPECT_TRUE(fs::exists(dir / "tok" / "vocab.json"));
  auto train = read_split(dir / "out", "train");
  auto val = read_split(dir / "out", "val");
  const uint32_t eot = BpeTokenizer::load(dir / "tok").eot_id();
  EXPECT_EQ(std::count(train.begin(), train.end(), eot), 27) << "one end-of-text id per document";
  EXPECT_EQ(std::count(val.begin(), val.end(), eot), 3);

  write_bytes(dir / "c.jsonl", corpus + "{\"text\": 5}\n");
  result = test::run_command(base);
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("c.jsonl:31"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace anvil::data
