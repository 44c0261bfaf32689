// BpeTokenizer encode/decode and the BPE merge loop (loading and saving: tokenizer_io.cpp,
// training: trainer.cpp).
//
// The merge loop applies, inside one pretoken, the lowest-rank merge present, leftmost first, until
// none applies; this gives exactly GPT-2's "merge every occurrence of the best pair" result. Short
// words (almost all) keep the pair ranks in a small array and rescan it (n is tiny, the array is
// in cache); long words (CJK sentences, runs of one character) use a min-heap of candidate pairs
// over a linked list, so a 10,000-byte run costs O(n log n), not O(n^2).
#include "data/bpe/tokenizer.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <queue>

#include "core/base/error.h"
#include "data/bpe/bpe_model.h"
#include "data/bpe/pretokenizer.h"

namespace anvil::data {
namespace bpe {
namespace {

// Words up to this many bytes use the array rescan; longer ones the heap.
constexpr size_t kShortWordMaxBytes = 64;
// Words longer than this are not cached (rare, and would bloat the cache).
constexpr size_t kMaxCachedWordBytes = 256;
// A cache shard is dropped when it grows past this many words (bounds memory on endless streams;
// 64 shards hold up to 1M words in all).
constexpr size_t kMaxCachedWordsPerShard = 1 << 14;
constexpr uint32_t kRemoved = ~uint32_t{0};
constexpr uint32_t kNoToken = ~uint32_t{0};

}  // namespace

void MergeTable::build(const std::vector<Merge>& merges) {
  // Load factor at most 1/2 keeps probe chains short.
  uint64_t capacity = std::bit_ceil(std::max<uint64_t>(16, 2 * merges.size()));
  shift_ = 64 - std::countr_zero(capacity);
  mask_ = capacity - 1;
  entries_.assign(capacity, Entry{kEmptyKey, 0, 0});
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const Merge& m = merges[rank];
    uint64_t key = (uint64_t{m.left} << 32) | m.right;
    for (uint64_t i = slot_of(key);; i = (i + 1) & mask_) {
      if (entries_[i].key == key) break;  // listed twice: the earlier rank stays
      if (entries_[i].key == kEmptyKey) {
        entries_[i] = Entry{key, static_cast<uint32_t>(rank), m.merged};
        break;
      }
    }
  }
}

void BpeModel::finalize(const std::string& source) {
  if (id_defined.size() != token_bytes.size()) id_defined.assign(token_bytes.size(), 1);
  id_is_special.assign(token_bytes.size(), 0);
  for (const SpecialToken& s : specials) {
    ANVIL_CHECK_AS(DataError, !s.text.empty(), source, ": special token ", s.id, " is empty");
    ANVIL_ASSERT(s.id < token_bytes.size());
    id_is_special[s.id] = 1;
  }
  byte_token.fill(kNoToken);
  for (size_t id = token_bytes.size(); id-- > 0;) {  // downwards so the lowest id wins
    if (id_defined[id] && !id_is_special[id] && token_bytes[id].size() == 1)
      byte_token[static_cast<unsigned char>(token_bytes[id][0])] = static_cast<uint32_t>(id);
  }
  for (int b = 0; b < 256; ++b) {
    if (byte_token[b] == kNoToken) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", b);
      throw DataError(detail::concat(source, ": the vocabulary has no token for byte ", hex,
                                     " (not a byte-level BPE vocabulary?)"));
    }
  }
  merge_table.build(merges);
  // Longest first, so a special token that extends another one wins at the same position.
  std::stable_sort(specials.begin(), specials.end(),
                   [](const SpecialToken& a, const SpecialToken& b) {
                     return a.text.size() > b.text.size();
                   });
}

void BpeModel::encode_word(std::string_view word, std::vector<uint32_t>& out) const {
  if (word.size() == 1) {
    out.push_back(byte_token[static_cast<unsigned char>(word[0])]);
    return;
  }
  if (word.size() > kMaxCachedWordBytes) {
    merge_word(word, out);
    return;
  }
  // The high bits pick the shard; the map inside uses the low bits, so they stay independent.
  CacheShard& shard = cache_shards_[TransparentStringHash{}(word) >> (64 - kCacheShardBits)];
  {
    std::lock_guard<std::mutex> lock(shard.mutex);
    auto it = shard.words.find(word);
    if (it != shard.words.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  size_t start = out.size();
  merge_word(word, out);
  std::vector<uint32_t> ids(out.begin() + static_cast<std::ptrdiff_t>(start), out.end());
  std::lock_guard<std::mutex> lock(shard.mutex);
  if (shard.words.size() >= kMaxCachedWordsPerShard) shard.words.clear();
  shard.words.emplace(std::string(word), std::move(ids));
}

void BpeModel::merge_word(std::string_view word, std::vector<uint32_t>& out) const {
  if (word.size() <= kShortWordMaxBytes)
    merge_short_word(word, out);
  else
    merge_long_word(word, out);
}

void BpeModel::merge_short_word(std::string_view word, std::vector<uint32_t>& out) const {
  uint32_t symbols[kShortWordMaxBytes];
  uint32_t ranks[kShortWordMaxBytes];   // ranks[i]: rank of (symbols[i], symbols[i+1])
  uint32_t merged[kShortWordMaxBytes];  // merged[i]: the token that pair becomes
  size_t n = word.size();
  for (size_t i = 0; i < n; ++i) symbols[i] = byte_token[static_cast<unsigned char>(word[i])];
  auto rate = [&](size_t i) {
    const MergeTable::Entry* e = merge_table.find(symbols[i], symbols[i + 1]);
    ranks[i] = e ? e->rank : MergeTable::kNoRank;
    merged[i] = e ? e->merged : 0;
  };
  for (size_t i = 0; i + 1 < n; ++i) rate(i);
  while (n > 1) {
    size_t best = 0;
    for (size_t i = 1; i + 1 < n; ++i)
      if (ranks[i] < ranks[best]) best = i;
    if (ranks[best] == MergeTable::kNoRank) break;
    symbols[best] = merged[best];
    for (size_t j = best + 1; j + 1 < n; ++j) {
      symbols[j] = symbols[j + 1];
      ranks[j] = ranks[j + 1];
      merged[j] = merged[j + 1];
    }
    --n;
    if (best > 0) rate(best - 1);
    if (best + 1 < n) rate(best);
  }
  out.insert(out.end(), symbols, symbols + n);
}

void BpeModel::merge_long_word(std::string_view word, std::vector<uint32_t>& out) const {
  struct Candidate {
    uint32_t rank, pos, left, right, merged;
    // priority_queue is a max-heap: "less" means lower priority (higher rank, then further right).
    bool operator<(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  const auto n = static_cast<uint32_t>(word.size());
  std::vector<uint32_t> symbols(n), prev(n), next(n);
  for (uint32_t i = 0; i < n; ++i) {
    symbols[i] = byte_token[static_cast<unsigned char>(word[i])];
    prev[i] = i - 1;  // wraps to ~0 ("none") for i == 0
    next[i] = i + 1;  // n means "none"
  }
  std::priority_queue<Candidate> heap;
  auto push = [&](uint32_t pos) {
    uint32_t right_pos = next[pos];
    if (right_pos >= n) return;
    if (const MergeTable::Entry* e = merge_table.find(symbols[pos], symbols[right_pos]))
      heap.push({e->rank, pos, symbols[pos], symbols[right_pos], e->merged});
  };
  for (uint32_t i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    Candidate c = heap.top();
    heap.pop();
    // Stale when either side has changed since the candidate was pushed.
    if (symbols[c.pos] != c.left) continue;
    uint32_t right_pos = next[c.pos];
    if (right_pos >= n || symbols[right_pos] != c.right) continue;
    symbols[c.pos] = c.merged;
    symbols[right_pos] = kRemoved;
    next[c.pos] = next[right_pos];
    if (next[c.pos] < n) prev[next[c.pos]] = c.pos;
    if (prev[c.pos] < n) push(prev[c.pos]);
    push(c.pos);
  }
  for (uint32_t i = 0; i < n; i = next[i]) out.push_back(symbols[i]);
}

}  // namespace bpe

BpeTokenizer::BpeTokenizer(std::shared_ptr<const bpe::BpeModel> model) : model_(std::move(model)) {}

std::vector<uint32_t> BpeTokenizer::encode(std::string_view text, bool allow_special) const {
  const bpe::BpeModel& model = *model_;
  std::vector<uint32_t> ids;
  ids.reserve(text.size() / 3 + 1);
  auto encode_ordinary = [&](std::string_view piece) {
    bpe::for_each_gpt2_pretoken(piece,
                                [&](std::string_view word) { model.encode_word(word, ids); });
  };
  if (!allow_special || model.specials.empty()) {
    encode_ordinary(text);
    return ids;
  }
  // Next occurrence of every special token at or after pos (npos when none is left).
  std::vector<size_t> next_at(model.specials.size());
  for (size_t s = 0; s < next_at.size(); ++s) next_at[s] = text.find(model.specials[s].text);
  size_t pos = 0;
  while (true) {
    size_t best = next_at.size();
    for (size_t s = 0; s < next_at.size(); ++s)
      if (next_at[s] != std::string_view::npos && (best == next_at.size() || next_at[s] < next_at[best]))
        best = s;  // ties keep the earlier (longer) token
    if (best == next_at.size()) break;
    encode_ordinary(text.substr(pos, next_at[best] - pos));
    ids.push_back(model.specials[best].id);
    pos = next_at[best] + model.specials[best].text.size();
    for (size_t s = 0; s < next_at.size(); ++s)
      if (next_at[s] != std::string_view::npos && next_at[s] < pos)
        next_at[s] = text.find(model.specials[s].text, pos);
  }
  encode_ordinary(text.substr(pos));
  return ids;
}

std::string BpeTokenizer::token_bytes(uint32_t id) const {
  const bpe::BpeModel& model = *model_;
  ANVIL_CHECK_AS(DataError, id < model.token_bytes.size() && model.id_defined[id], "token id ", id,
                 " is not in the vocabulary (size ", model.token_bytes.size(), ")");
  return model.token_bytes[id];
}

std::string BpeTokenizer::decode(const std::vector<uint32_t>& ids) const {
  const bpe::BpeModel& model = *model_;
  std::string text;
  text.reserve(ids.size() * 4);
  for (uint32_t id : ids) {
    ANVIL_CHECK_AS(DataError, id < model.token_bytes.size() && model.id_defined[id], "token id ",
                   id, " is not in the vocabulary (size ", model.token_bytes.size(), ")");
    text += model.token_bytes[id];
  }
  return text;
}

int64_t BpeTokenizer::vocab_size() const {
  return static_cast<int64_t>(model_->token_bytes.size());
}

std::optional<uint32_t> BpeTokenizer::special_token_id(std::string_view token) const {
  for (const bpe::SpecialToken& s : model_->specials)
    if (s.text == token) return s.id;
  return std::nullopt;
}

std::vector<uint32_t> BpeTokenizer::special_token_ids() const {
  std::vector<uint32_t> ids;
  for (const bpe::SpecialToken& s : model_->specials) ids.push_back(s.id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

uint32_t BpeTokenizer::eot_id() const {
  std::optional<uint32_t> id = special_token_id("<|endoftext|>");
  ANVIL_CHECK_AS(DataError, id.has_value(),
                 "the tokenizer has no \"<|endoftext|>\" special token");
  return *id;
}

}  // namespace anvil::data
