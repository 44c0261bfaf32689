// Training a byte-level BPE vocabulary (BpeTokenizer::train).
//
// The corpus is cut at special tokens, split into GPT-2 pretokens and reduced to unique words with
// counts. Every step merges the most frequent adjacent pair (ties: the smaller (left, right) ids,
// so results do not depend on hash order). The trick that keeps a 5 MB corpus to vocab 4096 at a
// second or two: pair counts are updated incrementally. Each pair remembers which words contain it;
// a merge rewrites only those words and applies the count changes it causes, and a max-heap with
// lazy deletion (an entry whose count is out of date is re-pushed when popped) finds the next pair.
// Merging two tokens whose bytes already form a token reuses that id, as vocab.json needs unique
// token text.
#include <queue>
#include <unordered_map>

#include "core/base/error.h"
#include "data/bpe/bpe_model.h"
#include "data/bpe/byte_level.h"
#include "data/bpe/pretokenizer.h"
#include "data/bpe/tokenizer.h"

namespace anvil::data {
namespace {

constexpr int64_t kByteTokens = 256;

uint64_t pair_key(uint32_t left, uint32_t right) { return (uint64_t{left} << 32) | right; }

struct Word {
  std::vector<uint32_t> symbols;
  int64_t count;
};

struct HeapEntry {
  int64_t count;
  uint64_t pair;
  bool operator<(const HeapEntry& o) const {
    return count != o.count ? count < o.count : pair > o.pair;
  }
};

bool is_valid_utf8(std::string_view text) {
  for (size_t pos = 0; pos < text.size();) {
    char32_t cp;
    int len = bpe::decode_utf8(text, pos, cp);
    if (len == 0) return false;
    pos += len;
  }
  return true;
}

// Unique pretokens of the corpus outside special tokens, with their counts.
std::vector<Word> count_words(std::string_view corpus, const std::vector<std::string>& specials) {
  std::unordered_map<std::string_view, int64_t> counts;
  auto count_piece = [&](std::string_view piece) {
    bpe::for_each_gpt2_pretoken(piece, [&](std::string_view w) { ++counts[w]; });
  };
  size_t pos = 0;
  while (pos < corpus.size()) {
    size_t cut = std::string_view::npos, cut_len = 0;
    for (const std::string& s : specials) {
      size_t at = corpus.find(s, pos);
      if (at < cut || (at == cut && at != std::string_view::npos && s.size() > cut_len))
        cut = at, cut_len = s.size();
    }
    if (cut == std::string_view::npos) break;
    count_piece(corpus.substr(pos, cut - pos));
    pos = cut + cut_len;
  }
  if (pos < corpus.size()) count_piece(corpus.substr(pos));
  std::vector<Word> words;
  words.reserve(counts.size());
  for (const auto& [text, count] : counts) {
    if (text.size() < 2) continue;  // nothing to merge inside one byte
    Word w{{}, count};
    w.symbols.reserve(text.size());
    for (unsigned char b : text) w.symbols.push_back(b);
    words.push_back(std::move(w));
  }
  return words;
}

}  // namespace

BpeTokenizer BpeTokenizer::train(std::string_view corpus, int64_t vocab_size,
                                 const std::vector<std::string>& special_tokens) {
  for (size_t i = 0; i < special_tokens.size(); ++i) {
    const std::string& s = special_tokens[i];
    ANVIL_CHECK_AS(ConfigError, !s.empty() && is_valid_utf8(s), "special token ", i,
                   " must be non-empty UTF-8 text");
    for (size_t j = 0; j < i; ++j)
      ANVIL_CHECK_AS(ConfigError, special_tokens[j] != s, "special token \"", s,
                     "\" is listed twice");
  }
  const int64_t regular_target = vocab_size - static_cast<int64_t>(special_tokens.size());
  ANVIL_CHECK_AS(ConfigError, regular_target >= kByteTokens, "vocab_size ", vocab_size,
                 " is too small: it must hold the 256 byte tokens and ", special_tokens.size(),
                 " special tokens");

  auto model = std::make_shared<bpe::BpeModel>();
  for (int b = 0; b < kByteTokens; ++b) model->token_bytes.emplace_back(1, static_cast<char>(b));
  std::unordered_map<std::string, uint32_t> id_of_bytes;
  for (int b = 0; b < kByteTokens; ++b) id_of_bytes.emplace(model->token_bytes[b], b);

  std::vector<Word> words = count_words(corpus, special_tokens);
  std::unordered_map<uint64_t, int64_t> pair_count;
  std::unordered_map<uint64_t, std::vector<uint32_t>> words_with_pair;  // may hold stale/dupes
  for (uint32_t w = 0; w < words.size(); ++w) {
    const std::vector<uint32_t>& s = words[w].symbols;
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      uint64_t key = pair_key(s[i], s[i + 1]);
      pair_count[key] += words[w].count;
      std::vector<uint32_t>& where = words_with_pair[key];
      if (where.empty() || where.back() != w) where.push_back(w);
    }
  }
  std::priority_queue<HeapEntry> heap;
  for (const auto& [key, count] : pair_count) heap.push({count, key});

  std::vector<uint32_t> visited_at_step(words.size(), ~uint32_t{0});
  std::unordered_map<uint64_t, int64_t> delta;
  std::vector<uint32_t> merged_symbols;
  for (uint32_t step = 0;
       static_cast<int64_t>(model->token_bytes.size()) < regular_target && !heap.empty(); ++step) {
    HeapEntry top = heap.top();
    heap.pop();
    auto found = pair_count.find(top.pair);
    int64_t current = found == pair_count.end() ? 0 : found->second;
    if (current != top.count) {  // out of date: requeue with the true count
      if (current > 0) heap.push({current, top.pair});
      continue;
    }
    const auto left = static_cast<uint32_t>(top.pair >> 32);
    const auto right = static_cast<uint32_t>(top.pair & 0xFFFFFFFFu);
    std::string bytes = model->token_bytes[left] + model->token_bytes[right];
    auto [slot, is_new] = id_of_bytes.emplace(bytes, static_cast<uint32_t>(model->token_bytes.size()));
    if (is_new) model->token_bytes.push_back(std::move(bytes));
    const uint32_t merged = slot->second;
    model->merges.push_back({left, right, merged});

    delta.clear();
    std::vector<uint32_t> affected = std::move(words_with_pair[top.pair]);
    words_with_pair.erase(top.pair);
    for (uint32_t w : affected) {
      if (visited_at_step[w] == step) continue;
      visited_at_step[w] = step;
      Word& word = words[w];
      const std::vector<uint32_t>& s = word.symbols;
      merged_symbols.clear();
      for (size_t i = 0; i < s.size();) {
        if (i + 1 < s.size() && s[i] == left && s[i + 1] == right) {
          merged_symbols.push_back(merged);
          i += 2;
        } else {
          merged_symbols.push_back(s[i++]);
        }
      }
      if (merged_symbols.size() == s.size()) continue;  // stale entry: pair no longer here
      for (size_t i = 0; i + 1 < s.size(); ++i) delta[pair_key(s[i], s[i + 1])] -= word.count;
      for (size_t i = 0; i + 1 < merged_symbols.size(); ++i) {
        uint64_t key = pair_key(merged_symbols[i], merged_symbols[i + 1]);
        delta[key] += word.count;
        if (merged_symbols[i] == merged || merged_symbols[i + 1] == merged) {
          std::vector<uint32_t>& where = words_with_pair[key];
          if (where.empty() || where.back() != w) where.push_back(w);
        }
      }
      word.symbols.swap(merged_symbols);
    }
    for (const auto& [key, change] : delta) {
      if (change == 0) continue;
      int64_t& count = pair_count[key];
      count += change;
      if (change > 0) heap.push({count, key});
      if (count <= 0) pair_count.erase(key);
    }
  }

  for (const std::string& s : special_tokens) {
    model->specials.push_back({s, static_cast<uint32_t>(model->token_bytes.size())});
    model->token_bytes.push_back(s);
  }
  model->finalize("trained tokenizer");
  return BpeTokenizer(std::move(model));
}

}  // namespace anvil::data
