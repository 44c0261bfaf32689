// Internal to data/bpe: the immutable model behind BpeTokenizer (vocabulary, ranked merges,
// special tokens) plus its per-pretoken encode cache, and the BPE merge loop.
//
// Ids are arbitrary (GPT-2's byte tokens are not ids 0..255), so the model keeps a byte -> id
// table and a flat open-addressing hash table (left id, right id) -> (rank, merged id), which is
// what the merge loop probes on every step.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace anvil::data::bpe {

struct Merge {
  uint32_t left;
  uint32_t right;
  uint32_t merged;
};

// (left, right) -> (rank, merged) lookups, built once; linear probing over a power-of-two table.
class MergeTable {
 public:
  struct Entry {
    uint64_t key;
    uint32_t rank;
    uint32_t merged;
  };
  static constexpr uint64_t kEmptyKey = ~uint64_t{0};
  static constexpr uint32_t kNoRank = ~uint32_t{0};

  // Earlier merges win when the same pair is listed twice (rank = position in merges).
  void build(const std::vector<Merge>& merges);
  // The entry for the pair, or nullptr.
  const Entry* find(uint32_t left, uint32_t right) const {
    uint64_t key = (uint64_t{left} << 32) | right;
    for (uint64_t i = slot_of(key);; i = (i + 1) & mask_) {
      const Entry& e = entries_[i];
      if (e.key == key) return &e;
      if (e.key == kEmptyKey) return nullptr;
    }
  }
  uint32_t rank(uint32_t left, uint32_t right) const {
    const Entry* e = find(left, right);
    return e ? e->rank : kNoRank;
  }

 private:
  uint64_t slot_of(uint64_t key) const { return (key * 0x9E3779B97F4A7C15ull) >> shift_; }
  std::vector<Entry> entries_{Entry{kEmptyKey, 0, 0}};
  uint64_t mask_ = 0;
  int shift_ = 63;
};

struct SpecialToken {
  std::string text;
  uint32_t id;
};

struct TransparentStringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

struct BpeModel {
  // Filled by a loader or the trainer, then finalize() derives the rest.
  std::vector<std::string> token_bytes;  // by id; special tokens hold their text
  std::vector<uint8_t> id_defined;       // 0 for holes in a sparse vocab.json
  std::vector<Merge> merges;             // in rank order
  std::vector<SpecialToken> specials;

  // Derived by finalize().
  std::array<uint32_t, 256> byte_token{};
  MergeTable merge_table;
  std::vector<uint8_t> id_is_special;

  // Checks that every byte has a token and builds the lookup tables. `source` names the input in
  // error messages (DataError).
  void finalize(const std::string& source);

  // Appends the ids of one pretoken, going through the cache.
  void encode_word(std::string_view word, std::vector<uint32_t>& out) const;
  // The BPE merge loop on one pretoken, no cache.
  void merge_word(std::string_view word, std::vector<uint32_t>& out) const;

 private:
  void merge_short_word(std::string_view word, std::vector<uint32_t>& out) const;
  void merge_long_word(std::string_view word, std::vector<uint32_t>& out) const;

  // The cache is split into shards, each behind its own mutex, so threads encoding documents in
  // parallel with one tokenizer rarely wait on each other.
  static constexpr int kCacheShardBits = 6;
  struct CacheShard {
    std::mutex mutex;
    std::unordered_map<std::string, std::vector<uint32_t>, TransparentStringHash, std::equal_to<>>
        words;
  };
  mutable std::array<CacheShard, size_t{1} << kCacheShardBits> cache_shards_;
};

}  // namespace anvil::data::bpe
