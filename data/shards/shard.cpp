// Token shard writer, memory-mapped reader and glob expansion (see shard.h).
//
// The header is built and parsed with memcpy at fixed offsets, so the layout does not depend on
// struct padding; the static_assert below pins the host to little-endian, which both formats use.
#include "data/shards/shard.h"

#include <fcntl.h>
#include <glob.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <utility>

#include "core/base/error.h"
#include "core/base/fs.h"

namespace anvil::data {

static_assert(std::endian::native == std::endian::little,
              "token shards are little-endian and read without byte swapping");

namespace {

constexpr int64_t kOffsetVersion = 8;
constexpr int64_t kOffsetTokenBytes = 12;
constexpr int64_t kOffsetCount = 16;
constexpr int64_t kOffsetChecksum = 24;

std::string errno_text() { return std::strerror(errno); }

template <typename T>
T load_le(const unsigned char* p) {
  T value;
  std::memcpy(&value, p, sizeof(T));
  return value;
}
template <typename T>
void store_le(unsigned char* p, T value) {
  std::memcpy(p, &value, sizeof(T));
}

}  // namespace

uint64_t fnv1a64(const void* data, int64_t num_bytes, uint64_t state) {
  constexpr uint64_t kPrime = 0x100000001b3ull;
  const auto* bytes = static_cast<const unsigned char*>(data);
  for (int64_t i = 0; i < num_bytes; ++i) {
    state ^= bytes[i];
    state *= kPrime;
  }
  return state;
}

int token_bytes_for_vocab(int64_t vocab_size) { return vocab_size <= 65536 ? 2 : 4; }

void write_shard(const std::filesystem::path& path, std::span<const uint32_t> tokens,
                 int token_bytes) {
  ANVIL_CHECK_AS(DataError, token_bytes == 2 || token_bytes == 4, "shard ", path.string(),
                 ": token_bytes must be 2 or 4, got ", token_bytes);
  const int64_t count = int64_t(tokens.size());
  std::vector<unsigned char> body(size_t(count * token_bytes));
  if (token_bytes == 4) {
    if (count > 0) std::memcpy(body.data(), tokens.data(), body.size());
  } else {
    for (int64_t i = 0; i < count; ++i) {
      ANVIL_CHECK_AS(DataError, tokens[i] <= 0xFFFFu, "shard ", path.string(), ": token ",
                     tokens[i], " at position ", i, " does not fit in 2 bytes; use 4");
      store_le<uint16_t>(body.data() + 2 * i, uint16_t(tokens[i]));
    }
  }
  unsigned char header[kShardHeaderBytes] = {};
  std::memcpy(header, kShardMagic, sizeof(kShardMagic));
  store_le<uint32_t>(header + kOffsetVersion, kShardVersion);
  store_le<uint32_t>(header + kOffsetTokenBytes, uint32_t(token_bytes));
  store_le<uint64_t>(header + kOffsetCount, uint64_t(count));
  store_le<uint64_t>(header + kOffsetChecksum, fnv1a64(body.data(), int64_t(body.size())));
  write_file_atomic(path, {std::string_view(reinterpret_cast<const char*>(header), kShardHeaderBytes),
                           std::string_view(reinterpret_cast<const char*>(body.data()), body.size())});
}

TokenShard TokenShard::open(const std::filesystem::path& path, bool verify_checksum) {
  const std::string name = path.string();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw DataError(detail::concat("cannot open shard ", name, ": ", errno_text()));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    std::string why = errno_text();
    ::close(fd);
    throw DataError(detail::concat("cannot stat shard ", name, ": ", why));
  }
  const int64_t file_bytes = int64_t(st.st_size);
  if (file_bytes < 8) {
    ::close(fd);
    throw DataError(detail::concat("shard ", name, " is truncated: ", file_bytes,
                                   " bytes, expected at least a ", kShardHeaderBytes,
                                   "-byte header"));
  }
  void* mapping = ::mmap(nullptr, size_t(file_bytes), PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);  // the mapping keeps the file alive
  if (mapping == MAP_FAILED)
    throw DataError(detail::concat("cannot memory-map shard ", name, ": ", errno_text()));

  TokenShard shard;
  shard.path_ = path;
  shard.mapping_ = mapping;
  shard.mapping_bytes_ = file_bytes;
  const auto* bytes = static_cast<const unsigned char*>(mapping);

  int64_t header_bytes = 0;
  uint64_t expected_checksum = 0;
  if (std::memcmp(bytes, kShardMagic, sizeof(kShardMagic)) == 0) {
    ANVIL_CHECK_AS(DataError, file_bytes >= kShardHeaderBytes, "shard ", name, " is truncated: ",
                   file_bytes, " bytes, expected at least the ", kShardHeaderBytes,
                   "-byte header");
    const uint32_t version = load_le<uint32_t>(bytes + kOffsetVersion);
    ANVIL_CHECK_AS(DataError, version == kShardVersion, "shard ", name, ": unknown version ",
                   version, ", expected ", kShardVersion);
    const uint32_t width = load_le<uint32_t>(bytes + kOffsetTokenBytes);
    ANVIL_CHECK_AS(DataError, width == 2 || width == 4, "shard ", name, ": token_bytes is ",
                   width, ", expected 2 or 4");
    shard.format_ = ShardFormat::kAnvil;
    shard.token_bytes_ = int(width);
    shard.token_count_ = int64_t(load_le<uint64_t>(bytes + kOffsetCount));
    expected_checksum = load_le<uint64_t>(bytes + kOffsetChecksum);
    header_bytes = kShardHeaderBytes;
  } else if (load_le<int32_t>(bytes) == kLlmcShardMagic) {
    ANVIL_CHECK_AS(DataError, file_bytes >= kLlmcHeaderBytes, "llm.c shard ", name,
                   " is truncated: ", file_bytes, " bytes, expected at least the ",
                   kLlmcHeaderBytes, "-byte header");
    const int32_t version = load_le<int32_t>(bytes + 4);
    ANVIL_CHECK_AS(DataError, version == 1 || version == 2, "llm.c shard ", name,
                   ": unknown version ", version, ", expected 1 (u16 ids) or 2 (u32 ids)");
    const int32_t count = load_le<int32_t>(bytes + 8);
    ANVIL_CHECK_AS(DataError, count >= 0, "llm.c shard ", name, ": negative token count ",
                   count);
    shard.format_ = ShardFormat::kLlmc;
    shard.token_bytes_ = version == 1 ? 2 : 4;
    shard.token_count_ = count;
    header_bytes = kLlmcHeaderBytes;
  } else {
    throw DataError(detail::concat("shard ", name, ": bad magic, expected \"ANVLTOK\" or llm.c's ",
                                   kLlmcShardMagic, " in the first bytes"));
  }

  // Guard the multiplication: a corrupt count must not overflow into a plausible size.
  const int64_t max_count = (file_bytes - header_bytes) / shard.token_bytes_;
  const int64_t expected_bytes = header_bytes + shard.token_count_ * shard.token_bytes_;
  ANVIL_CHECK_AS(DataError, shard.token_count_ <= max_count && expected_bytes == file_bytes,
                 "shard ", name, " is truncated or has trailing bytes: header says ",
                 shard.token_count_, " tokens of ", shard.token_bytes_, " bytes (",
                 header_bytes + (shard.token_count_ <= max_count
                                     ? shard.token_count_ * shard.token_bytes_
                                     : int64_t(-1)),
                 " bytes in all), file has ", file_bytes, " bytes");
  shard.tokens_ = bytes + header_bytes;
  if (verify_checksum && shard.format_ == ShardFormat::kAnvil) {
    const uint64_t found = fnv1a64(shard.tokens_, shard.token_count_ * shard.token_bytes_);
    ANVIL_CHECK_AS(DataError, found == expected_checksum, "shard ", name,
                   ": checksum mismatch, header says ", std::hex, expected_checksum,
                   ", tokens hash to ", found, " (the file is corrupt)");
  }
  return shard;
}

TokenShard::TokenShard(TokenShard&& other) noexcept { *this = std::move(other); }

TokenShard& TokenShard::operator=(TokenShard&& other) noexcept {
  if (this != &other) {
    unmap();
    path_ = std::move(other.path_);
    format_ = other.format_;
    token_bytes_ = other.token_bytes_;
    token_count_ = other.token_count_;
    mapping_ = std::exchange(other.mapping_, nullptr);
    mapping_bytes_ = std::exchange(other.mapping_bytes_, 0);
    tokens_ = std::exchange(other.tokens_, nullptr);
    other.token_count_ = 0;
  }
  return *this;
}

TokenShard::~TokenShard() { unmap(); }

void TokenShard::unmap() {
  if (mapping_ != nullptr) ::munmap(mapping_, size_t(mapping_bytes_));
  mapping_ = nullptr;
  mapping_bytes_ = 0;
  tokens_ = nullptr;
}

void TokenShard::read(int64_t begin, int64_t count, uint32_t* out) const {
  ANVIL_ASSERT(begin >= 0 && count >= 0 && begin + count <= token_count_, "read [", begin, ", ",
               begin + count, ") of a shard of ", token_count_, " tokens");
  if (token_bytes_ == 4) {
    std::memcpy(out, tokens_ + begin * 4, size_t(count) * 4);
  } else {
    for (int64_t i = 0; i < count; ++i) out[i] = load_le<uint16_t>(tokens_ + (begin + i) * 2);
  }
}

std::vector<uint32_t> TokenShard::to_vector() const {
  std::vector<uint32_t> out(static_cast<size_t>(token_count_));
  read(0, token_count_, out.data());
  return out;
}

std::vector<std::filesystem::path> expand_glob(const std::string& pattern) {
  glob_t matches{};
  const int rc = ::glob(pattern.c_str(), 0, nullptr, &matches);
  std::vector<std::filesystem::path> paths;
  if (rc == 0) {
    for (size_t i = 0; i < matches.gl_pathc; ++i) paths.emplace_back(matches.gl_pathv[i]);
  }
  ::globfree(&matches);
  if (rc == GLOB_NOSPACE || rc == GLOB_ABORTED)
    throw DataError(detail::concat("cannot expand pattern '", pattern, "': read error"));
  ANVIL_CHECK_AS(DataError, !paths.empty(), "pattern '", pattern, "' matches no files");
  std::sort(paths.begin(), paths.end());
  return paths;
}

}  // namespace anvil::data
