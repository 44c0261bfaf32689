// Token shards: flat files of token ids that `anvil prepare` writes and the training loader reads.
//
// Our format ("ANVLTOK"), all little-endian, a fixed 64-byte header then the tokens:
//   offset  0  char[8]  magic "ANVLTOK\0"
//   offset  8  u32      version (1)
//   offset 12  u32      token_bytes: 2 (u16 ids, vocabularies up to 65536) or 4 (u32 ids)
//   offset 16  u64      token_count
//   offset 24  u64      checksum: FNV-1a 64 of the token bytes exactly as stored
//   offset 32  u8[32]   reserved, zero
//   offset 64  token_count * token_bytes bytes of ids
// The reader also accepts llm.c's .bin shards: a 256 x int32 header (magic 20240520, version 1 =
// u16 ids, version 2 = u32 ids, header[2] = token count) followed by the ids; they carry no
// checksum.
//
// Files are opened by memory-mapping, so a shard costs no heap and the page cache is shared by
// every process reading it. Every problem with a file (missing, bad magic, unknown version,
// truncated, checksum mismatch) is an anvil::DataError naming the file and what was expected.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace anvil::data {

inline constexpr char kShardMagic[8] = {'A', 'N', 'V', 'L', 'T', 'O', 'K', '\0'};
inline constexpr uint32_t kShardVersion = 1;
inline constexpr int64_t kShardHeaderBytes = 64;
inline constexpr int32_t kLlmcShardMagic = 20240520;
inline constexpr int64_t kLlmcHeaderInts = 256;
inline constexpr int64_t kLlmcHeaderBytes = kLlmcHeaderInts * 4;

enum class ShardFormat { kAnvil, kLlmc };

// FNV-1a 64 over bytes; pass the previous result as `state` to continue over several buffers.
inline constexpr uint64_t kFnvOffsetBasis = 0xcbf29ce484222325ull;
uint64_t fnv1a64(const void* data, int64_t num_bytes, uint64_t state = kFnvOffsetBasis);

// The smallest id width that holds every id of a vocabulary: 2 when vocab_size <= 65536, else 4.
int token_bytes_for_vocab(int64_t vocab_size);

// Writes tokens as an ANVLTOK shard with token_bytes 2 or 4 (2 requires every id < 65536, else
// anvil::DataError). Atomic: a temp file in the same folder is written, fsynced and renamed, so a
// crash never leaves a half-written shard under the final name.
void write_shard(const std::filesystem::path& path, std::span<const uint32_t> tokens,
                 int token_bytes);

// A read-only, memory-mapped shard. Movable, not copyable.
class TokenShard {
 public:
  // Opens and validates a shard. verify_checksum re-hashes the tokens (about 1 s per GB).
  static TokenShard open(const std::filesystem::path& path, bool verify_checksum = true);

  TokenShard() = default;
  TokenShard(TokenShard&& other) noexcept;
  TokenShard& operator=(TokenShard&& other) noexcept;
  TokenShard(const TokenShard&) = delete;
  TokenShard& operator=(const TokenShard&) = delete;
  ~TokenShard();

  const std::filesystem::path& path() const { return path_; }
  ShardFormat format() const { return format_; }
  int token_bytes() const { return token_bytes_; }
  int64_t size() const { return token_count_; }  // number of tokens

  uint32_t operator[](int64_t index) const {
    return token_bytes_ == 2 ? uint32_t(reinterpret_cast<const uint16_t*>(tokens_)[index])
                             : reinterpret_cast<const uint32_t*>(tokens_)[index];
  }
  // Copies tokens [begin, begin + count) widened to u32.
  void read(int64_t begin, int64_t count, uint32_t* out) const;
  std::vector<uint32_t> to_vector() const;

 private:
  void unmap();

  std::filesystem::path path_;
  ShardFormat format_ = ShardFormat::kAnvil;
  int token_bytes_ = 2;
  int64_t token_count_ = 0;
  void* mapping_ = nullptr;  // whole file
  int64_t mapping_bytes_ = 0;
  const unsigned char* tokens_ = nullptr;  // first token inside mapping_
};

// Paths matching a POSIX glob pattern (a plain path matches itself when it exists), sorted.
// A pattern that matches nothing is an anvil::DataError naming the pattern.
std::vector<std::filesystem::path> expand_glob(const std::string& pattern);

}  // namespace anvil::data
