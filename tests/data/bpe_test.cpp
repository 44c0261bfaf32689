// Tests for the byte-level BPE tokenizer (data/bpe): GPT-2 golden encodings, an independent
// reference of GPT-2's merge loop, the pretokenizer pattern, training, save/load, tokenizer.json
// loading and error messages.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "core/base/error.h"
#include "data/bpe/byte_level.h"
#include "data/bpe/pretokenizer.h"
#include "data/bpe/tokenizer.h"
#include "tests/support/test_paths.h"

namespace anvil::data {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

fs::path gpt2_dir() { return test::shared_dir() / "data" / "gpt2-tokenizer"; }

const BpeTokenizer& gpt2() {
  static const BpeTokenizer tokenizer = BpeTokenizer::load(gpt2_dir());
  return tokenizer;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// Text mixing ASCII words, digits, punctuation, runs of spaces and newlines, accented Latin,
// CJK, emoji and contractions, so every pretokenizer branch and long-word merges are hit.
std::string random_mixed_text(std::mt19937& rng, int pieces) {
  static const std::vector<std::string> parts = {
      "the", " quick", "Brown", " fox", "'s", "'ll", "'Re", "  ", "   ", "\n", "\n\n", "\r\n",
      "\t", "42", " 3.14", "!!", " ?", "é", "naïve", "中文字符", "😀", " ", "e-mail", "\u00a0",
      "\u3000", "٣٤", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      "ababababababababababababababababababababababababababababababababababababab"};
  std::uniform_int_distribution<size_t> pick(0, parts.size() - 1);
  std::string text;
  for (int i = 0; i < pieces; ++i) text += parts[pick(rng)];
  return text;
}

std::string random_bytes(std::mt19937& rng, size_t length) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::string s(length, '\0');
  for (char& c : s) c = static_cast<char>(byte(rng));
  return s;
}

// GPT-2's original algorithm, written plainly from its files: inside a pretoken, repeatedly find
// the adjacent pair with the lowest merge rank and merge every occurrence of it left to right.
class ReferenceGpt2 {
 public:
  ReferenceGpt2() {
    json vocab = json::parse(read_text(gpt2_dir() / "vocab.json"));
    for (auto& [text, id] : vocab.items()) id_of_[text] = id.get<uint32_t>();
    std::istringstream lines(read_text(gpt2_dir() / "merges.txt"));
    std::string line;
    std::getline(lines, line);  // #version
    int rank = 0;
    while (std::getline(lines, line)) {
      if (line.empty()) continue;
      size_t space = line.find(' ');
      rank_[{line.substr(0, space), line.substr(space + 1)}] = rank++;
    }
  }
  std::vector<uint32_t> encode(std::string_view text) const {
    std::vector<uint32_t> ids;
    for (std::string_view word : bpe::gpt2_pretokenize(text)) {
      std::vector<std::string> parts;
      for (unsigned char b : word) parts.push_back(bpe::bytes_to_token_text(std::string(1, b)));
      while (parts.size() > 1) {
        int best_rank = -1;
        std::pair<std::string, std::string> best;
        for (size_t i = 0; i + 1 < parts.size(); ++i) {
          auto it = rank_.find({parts[i], parts[i + 1]});
          if (it != rank_.end() && (best_rank < 0 || it->second < best_rank))
            best_rank = it->second, best = it->first;
        }
        if (best_rank < 0) break;
        std::vector<std::string> merged;
        for (size_t i = 0; i < parts.size();) {
          if (i + 1 < parts.size() && parts[i] == best.first && parts[i + 1] == best.second) {
            merged.push_back(parts[i] + parts[i + 1]);
            i += 2;
          } else {
            merged.push_back(parts[i++]);
          }
        }
        parts = std::move(merged);
      }
      for (const std::string& p : parts) ids.push_back(id_of_.at(p));
    }
    return ids;
  }

 private:
  std::map<std::string, uint32_t> id_of_;
  std::map<std::pair<std::string, std::string>, int> rank_;
};

std::string training_corpus(int sentences) {
  static const std::vector<std::string> subjects = {"The cat", "A dog", "Our model", "Everyone",
                                                    "The tokenizer", "Naïve Bayes", "Zoë"};
  static const std::vector<std::string> verbs = {" eats", " trains", " reads", " writes",
                                                 " encodes", " doesn't like", " prefers"};
  static const std::vector<std::string> objects = {" the fish.", " 42 books!", " long words",
                                                   " byte-level BPE.", " données 中文.",
                                                   " the end of text?"};
  std::mt19937 rng(7);
  std::string text;
  for (int i = 0; i < sentences; ++i) {
    text += subjects[rng() % subjects.size()] + verbs[rng() % verbs.size()] +
            objects[rng() % objects.size()];
    text += (i % 5 == 4) ? "\n\n" : " ";
    if (i % 50 == 49) text += "<|endoftext|>";
  }
  return text;
}

template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const DataError& e) {
    return e.what();
  }
  return "(no DataError thrown)";
}

// ---------------------------------------------------------------- GPT-2 files

TEST(Gpt2Tokenizer, EncodesEveryGoldenCase) {
  json cases = json::parse(read_text(test::shared_dir() / "data/golden/gpt2_tokenizer_cases.json"));
  ASSERT_GT(cases.size(), 5u);
  for (const json& c : cases) {
    std::string text = c["text"].get<std::string>();
    std::vector<uint32_t> expected = c["ids"].get<std::vector<uint32_t>>();
    EXPECT_EQ(gpt2().encode(text, /*allow_special=*/false), expected) << "text: " << text;
    EXPECT_EQ(gpt2().decode(expected), text);
  }
}

TEST(Gpt2Tokenizer, KnownIdsAndVocabulary) {
  EXPECT_EQ(gpt2().encode("Hello world"), (std::vector<uint32_t>{15496, 995}));
  EXPECT_EQ(gpt2().encode(" the"), (std::vector<uint32_t>{262}));
  EXPECT_EQ(gpt2().vocab_size(), 50257);
  EXPECT_EQ(gpt2().eot_id(), 50256u);
  EXPECT_EQ(gpt2().special_token_ids(), (std::vector<uint32_t>{50256}));
  EXPECT_EQ(gpt2().token_bytes(262), " the");
  EXPECT_EQ(gpt2().token_bytes(198), "\n");
  EXPECT_TRUE(gpt2().encode("").empty());
}

TEST(Gpt2Tokenizer, MatchesReferenceMergeLoopOnRandomText) {
  ReferenceGpt2 reference;
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 200; ++trial) {
    std::string text = random_mixed_text(rng, 1 + trial % 40);
    ASSERT_EQ(gpt2().encode(text, false), reference.encode(text)) << "text: " << text;
  }
  // One pretoken far longer than the short-word path handles (the heap path).
  std::string long_word;
  for (int i = 0; i < 700; ++i) long_word += (rng() % 3 == 0) ? "ab" : "ba";
  EXPECT_EQ(gpt2().encode(long_word), reference.encode(long_word));
  std::string cjk;
  for (int i = 0; i < 120; ++i) cjk += (i % 3 == 0) ? "中文" : "字符";
  EXPECT_EQ(gpt2().encode(cjk), reference.encode(cjk));
}

TEST(Gpt2Tokenizer, DecodeInvertsEncodeOnRandomBytesAndText) {
  std::mt19937 rng(99);
  for (int trial = 0; trial < 300; ++trial) {
    std::string bytes = random_bytes(rng, rng() % 400);
    ASSERT_EQ(gpt2().decode(gpt2().encode(bytes, false)), bytes);
    std::string text = random_mixed_text(rng, 30);
    ASSERT_EQ(gpt2().decode(gpt2().encode(text)), text);
  }
}

TEST(Gpt2Tokenizer, EndOfTextIsOneIdOnlyWhenAllowed) {
  const std::string text = "Hello<|endoftext|> world<|endoftext|>";
  std::vector<uint32_t> hello = gpt2().encode("Hello");
  std::vector<uint32_t> world = gpt2().encode(" world");
  std::vector<uint32_t> expected = hello;
  expected.push_back(50256);
  expected.insert(expected.end(), world.begin(), world.end());
  expected.push_back(50256);
  EXPECT_EQ(gpt2().encode(text, true), expected);
  std::vector<uint32_t> plain = gpt2().encode(text, false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 50256u), 0);
  EXPECT_GT(plain.size(), expected.size());
  EXPECT_EQ(gpt2().decode(plain), text);
  EXPECT_EQ(gpt2().decode(expected), text);
  EXPECT_EQ(gpt2().special_token_id("<|endoftext|>"), std::optional<uint32_t>(50256));
  EXPECT_EQ(gpt2().special_token_id("<|nope|>"), std::nullopt);
}

TEST(Gpt2Tokenizer, ConcurrentEncodesAgreeWithSequentialOnes) {
  std::string corpus = training_corpus(500);
  BpeTokenizer sequential = BpeTokenizer::train(corpus, 400);
  BpeTokenizer shared = BpeTokenizer::train(corpus, 400);  // same model, its own empty cache
  std::vector<std::string> texts;
  std::mt19937 rng(3);
  for (int i = 0; i < 64; ++i) texts.push_back(random_mixed_text(rng, 200));
  std::vector<std::vector<uint32_t>> expected, got(texts.size());
  for (const std::string& t : texts) expected.push_back(sequential.encode(t));
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w)
    threads.emplace_back([&, w] {
      for (size_t i = w; i < texts.size(); i += 4) got[i] = shared.encode(texts[i]);
    });
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(got, expected);
}

// ---------------------------------------------------------------- pretokenizer

TEST(Gpt2Pretokenizer, FollowsThePattern) {
  using V = std::vector<std::string_view>;
  EXPECT_EQ(bpe::gpt2_pretokenize("Hello world"), (V{"Hello", " world"}));
  EXPECT_EQ(bpe::gpt2_pretokenize("a   b"), (V{"a", "  ", " b"}));
  EXPECT_EQ(bpe::gpt2_pretokenize("x  \n\ny"), (V{"x", "  \n", "\n", "y"}));
  EXPECT_EQ(bpe::gpt2_pretokenize("end  "), (V{"end", "  "}));
  EXPECT_EQ(bpe::gpt2_pretokenize("I'm they'll 'S"), (V{"I", "'m", " they", "'ll", " '", "S"}));
  EXPECT_EQ(bpe::gpt2_pretokenize("$$$ 123abc"), (V{"$$$", " 123", "abc"}));
  EXPECT_EQ(bpe::gpt2_pretokenize("naïve ٣٤x"), (V{"naïve", " ٣٤", "x"}));
  // Only U+0020 may lead a word; other Unicode spaces stand alone.
  EXPECT_EQ(bpe::gpt2_pretokenize("a\u3000\u3000b"), (V{"a", "\u3000", "\u3000", "b"}));
  EXPECT_EQ(bpe::gpt2_pretokenize("a\u00a0b"), (V{"a", "\u00a0", "b"}));
  // An invalid byte is one "other" character.
  EXPECT_EQ(bpe::gpt2_pretokenize("ab\xff\xfe cd"), (V{"ab", "\xff\xfe", " cd"}));
}

// ---------------------------------------------------------------- training

TEST(BpeTrain, MergesTheMostFrequentPairFirst) {
  BpeTokenizer tok = BpeTokenizer::train("xy xy xy xy qz", 256 + 1 + 1);
  EXPECT_EQ(tok.vocab_size(), 258);
  EXPECT_EQ(tok.token_bytes(256), "xy");
  EXPECT_EQ(tok.eot_id(), 257u);
  EXPECT_EQ(tok.encode("xy"), (std::vector<uint32_t>{256}));
  EXPECT_EQ(tok.encode("qz"), (std::vector<uint32_t>{'q', 'z'}));
}

// Training by full recount of every pair after each merge: slow, but obviously right.
std::vector<std::string> reference_training(std::string_view corpus, int64_t vocab_size) {
  std::map<std::string, int64_t> word_counts;
  for (std::string_view w : bpe::gpt2_pretokenize(corpus)) ++word_counts[std::string(w)];
  std::vector<std::pair<std::vector<uint32_t>, int64_t>> words;
  for (const auto& [w, n] : word_counts) {
    std::vector<uint32_t> symbols;
    for (unsigned char b : w) symbols.push_back(b);
    words.push_back({symbols, n});
  }
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.emplace_back(1, static_cast<char>(b));
  while (static_cast<int64_t>(tokens.size()) < vocab_size) {
    std::map<std::pair<uint32_t, uint32_t>, int64_t> pairs;
    for (const auto& [s, n] : words)
      for (size_t i = 0; i + 1 < s.size(); ++i) pairs[{s[i], s[i + 1]}] += n;
    if (pairs.empty()) break;
    auto best = pairs.begin();  // highest count; std::map order makes ties pick the smaller pair
    for (auto it = pairs.begin(); it != pairs.end(); ++it)
      if (it->second > best->second) best = it;
    auto [left, right] = best->first;
    std::string merged_text = tokens[left] + tokens[right];
    auto existing = std::find(tokens.begin(), tokens.end(), merged_text);
    uint32_t merged = static_cast<uint32_t>(existing - tokens.begin());
    if (existing == tokens.end()) tokens.push_back(merged_text);
    for (auto& [s, n] : words) {
      std::vector<uint32_t> out;
      for (size_t i = 0; i < s.size();) {
        if (i + 1 < s.size() && s[i] == left && s[i + 1] == right) {
          out.push_back(merged);
          i += 2;
        } else {
          out.push_back(s[i++]);
        }
      }
      s = std::move(out);
    }
  }
  return tokens;
}

TEST(BpeTrain, IncrementalCountsMatchAFullRecount) {
  std::mt19937 rng(11);
  std::string corpus;
  for (int i = 0; i < 300; ++i) corpus += random_mixed_text(rng, 3) + (rng() % 2 ? " " : "");
  corpus += "aaaaaaa aaaa abababab";  // overlapping and repeated pairs
  BpeTokenizer tok = BpeTokenizer::train(corpus, 420, {});
  std::vector<std::string> expected = reference_training(corpus, 420);
  ASSERT_EQ(tok.vocab_size(), static_cast<int64_t>(expected.size()));
  for (uint32_t id = 0; id < expected.size(); ++id) ASSERT_EQ(tok.token_bytes(id), expected[id]) << id;
}

TEST(BpeTrain, StopsWhenNoPairIsLeft) {
  BpeTokenizer tok = BpeTokenizer::train("ab", 1000, {});
  EXPECT_EQ(tok.vocab_size(), 257);
  EXPECT_EQ(tok.encode("ab"), (std::vector<uint32_t>{256}));
  EXPECT_THROW(tok.eot_id(), DataError);
}

TEST(BpeTrain, RejectsBadArguments) {
  EXPECT_THROW(BpeTokenizer::train("abc", 256), ConfigError);  // no room for <|endoftext|>
  EXPECT_THROW(BpeTokenizer::train("abc", 300, {"<a>", "<a>"}), ConfigError);
  EXPECT_THROW(BpeTokenizer::train("abc", 300, {""}), ConfigError);
}

TEST(BpeTrain, SpecialTokensAreCutOutOfTheCorpus) {
  std::string corpus;
  for (int i = 0; i < 200; ++i) corpus += "hello world<|endoftext|>";
  BpeTokenizer tok = BpeTokenizer::train(corpus, 320);
  for (uint32_t id = 256; id < tok.eot_id(); ++id)
    EXPECT_EQ(tok.token_bytes(id).find('|'), std::string::npos) << tok.token_bytes(id);
  std::vector<uint32_t> ids = tok.encode("hello world<|endoftext|>");
  EXPECT_EQ(ids.back(), tok.eot_id());
  EXPECT_LE(ids.size(), 3u);  // "hello", " world", eot once merges have run
}

TEST(BpeTrain, SaveLoadRoundTripGivesIdenticalEncodings) {
  std::string corpus = training_corpus(2000);
  BpeTokenizer tok = BpeTokenizer::train(corpus, 340);
  EXPECT_EQ(tok.vocab_size(), 340);
  EXPECT_EQ(tok.eot_id(), 339u);
  std::vector<uint32_t> corpus_ids = tok.encode(corpus);
  EXPECT_LT(corpus_ids.size() * 2, corpus.size());  // it learned to compress its corpus
  EXPECT_EQ(tok.decode(corpus_ids), corpus);

  fs::path dir = test::scratch_dir() / "trained";
  tok.save(dir);
  EXPECT_TRUE(fs::exists(dir / "vocab.json"));
  EXPECT_TRUE(fs::exists(dir / "merges.txt"));
  for (const auto& entry : fs::directory_iterator(dir))  // no temporary file left behind
    EXPECT_TRUE(entry.path().filename() == "vocab.json" || entry.path().filename() == "merges.txt");
  BpeTokenizer loaded = BpeTokenizer::load(dir);
  EXPECT_EQ(loaded.vocab_size(), tok.vocab_size());
  EXPECT_EQ(loaded.eot_id(), tok.eot_id());
  EXPECT_EQ(loaded.encode(corpus), corpus_ids);
  std::mt19937 rng(5);
  for (int trial = 0; trial < 50; ++trial) {
    std::string text = random_mixed_text(rng, 20);
    ASSERT_EQ(loaded.encode(text), tok.encode(text)) << text;
    ASSERT_EQ(loaded.decode(loaded.encode(text)), text);
  }
  for (uint32_t id = 0; id < tok.vocab_size(); ++id) ASSERT_EQ(loaded.token_bytes(id), tok.token_bytes(id));
}

// ---------------------------------------------------------------- tokenizer.json

// Writes a Hugging Face tokenizer.json holding the vocabulary saved in gpt2_format_dir.
void write_hf_json(const fs::path& gpt2_format_dir, const fs::path& out, bool merges_as_pairs,
                   uint32_t eot) {
  json vocab = json::parse(read_text(gpt2_format_dir / "vocab.json"));
  json merges = json::array();
  std::istringstream lines(read_text(gpt2_format_dir / "merges.txt"));
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line.rfind("#version", 0) == 0) continue;
    size_t space = line.find(' ');
    if (merges_as_pairs)
      merges.push_back(json::array({line.substr(0, space), line.substr(space + 1)}));
    else
      merges.push_back(line);
  }
  json root = {
      {"version", "1.0"},
      {"added_tokens", json::array({{{"id", eot}, {"content", "<|endoftext|>"}, {"special", true},
                                     {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                                     {"normalized", false}}})},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true},
        {"use_regex", true}}},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model",
       {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"fuse_unk", false},
        {"byte_fallback", false}, {"vocab", vocab}, {"merges", merges}}}};
  write_text(out, root.dump());
}

TEST(HfTokenizerJson, TrainedVocabularyLoadsWithStringAndPairMerges) {
  std::string corpus = training_corpus(1000);
  BpeTokenizer tok = BpeTokenizer::train(corpus, 400);
  fs::path scratch = test::scratch_dir();
  tok.save(scratch / "gpt2_format");
  for (bool pairs : {false, true}) {
    fs::path dir = scratch / (pairs ? "hf_pairs" : "hf_strings");
    fs::create_directories(dir);
    write_hf_json(scratch / "gpt2_format", dir / "tokenizer.json", pairs, tok.eot_id());
    for (const fs::path& path : {dir, dir / "tokenizer.json"}) {
      BpeTokenizer hf = BpeTokenizer::load(path);
      EXPECT_EQ(hf.vocab_size(), tok.vocab_size());
      EXPECT_EQ(hf.eot_id(), tok.eot_id());
      EXPECT_EQ(hf.encode(corpus), tok.encode(corpus));
      EXPECT_EQ(hf.encode("Zoë writes<|endoftext|>"), tok.encode("Zoë writes<|endoftext|>"));
    }
  }
}

TEST(HfTokenizerJson, Gpt2InHfFormatEncodesGoldenCases) {
  fs::path file = test::scratch_dir() / "tokenizer.json";
  write_hf_json(gpt2_dir(), file, true, 50256);
  BpeTokenizer hf = BpeTokenizer::load_hf_json(file);
  json cases = json::parse(read_text(test::shared_dir() / "data/golden/gpt2_tokenizer_cases.json"));
  for (const json& c : cases)
    EXPECT_EQ(hf.encode(c["text"].get<std::string>(), false), c["ids"].get<std::vector<uint32_t>>());
  EXPECT_EQ(hf.eot_id(), 50256u);
}

TEST(HfTokenizerJson, RejectsOtherModelsAndPretokenizers) {
  fs::path dir = test::scratch_dir();
  write_text(dir / "wordpiece.json", R"({"model": {"type": "WordPiece", "vocab": {}}})");
  std::string msg = error_of([&] { BpeTokenizer::load(dir / "wordpiece.json"); });
  EXPECT_NE(msg.find("wordpiece.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("model.type"), std::string::npos) << msg;
  write_text(dir / "metaspace.json",
             R"({"pre_tokenizer": {"type": "Metaspace"}, "model": {"type": "BPE", "vocab": {}}})");
  msg = error_of([&] { BpeTokenizer::load(dir / "metaspace.json"); });
  EXPECT_NE(msg.find("pre_tokenizer"), std::string::npos) << msg;
}

// ---------------------------------------------------------------- bad input

TEST(BpeErrors, MissingFilesAreNamed) {
  fs::path dir = test::scratch_dir();
  std::string msg = error_of([&] { BpeTokenizer::load(dir / "no_such_tokenizer"); });
  EXPECT_NE(msg.find("no_such_tokenizer"), std::string::npos) << msg;
  msg = error_of([&] { BpeTokenizer::load(dir); });  // empty folder
  EXPECT_NE(msg.find(dir.string()), std::string::npos) << msg;
  msg = error_of([&] { BpeTokenizer::load_gpt2(gpt2_dir() / "vocab.json", dir / "merges.txt"); });
  EXPECT_NE(msg.find(dir.string() + "/merges.txt"), std::string::npos) << msg;
}

TEST(BpeErrors, BadMergesAndVocabularyNameFileAndLine) {
  fs::path dir = test::scratch_dir();
  BpeTokenizer::train("hello hello world world", 270).save(dir / "good");
  std::string vocab = read_text(dir / "good/vocab.json");
  std::string merges = read_text(dir / "good/merges.txt");
  auto first_newline = merges.find('\n');
  auto second_newline = merges.find('\n', first_newline + 1);

  fs::create_directories(dir / "three_tokens");
  write_text(dir / "three_tokens/vocab.json", vocab);
  write_text(dir / "three_tokens/merges.txt", merges.substr(0, second_newline + 1) + "a b c\n");
  std::string msg = error_of([&] { BpeTokenizer::load(dir / "three_tokens"); });
  EXPECT_NE(msg.find("three_tokens/merges.txt:3"), std::string::npos) << msg;

  fs::create_directories(dir / "unknown_token");
  write_text(dir / "unknown_token/vocab.json", vocab);
  write_text(dir / "unknown_token/merges.txt", "#version: 0.2\nh \xe2\x82\xac\n");  // "h €"
  msg = error_of([&] { BpeTokenizer::load(dir / "unknown_token"); });
  EXPECT_NE(msg.find("unknown_token/merges.txt:2"), std::string::npos) << msg;

  fs::create_directories(dir / "bad_json");
  write_text(dir / "bad_json/vocab.json", vocab.substr(0, vocab.size() / 2));
  write_text(dir / "bad_json/merges.txt", merges);
  msg = error_of([&] { BpeTokenizer::load(dir / "bad_json"); });
  EXPECT_NE(msg.find("bad_json/vocab.json"), std::string::npos) << msg;

  fs::create_directories(dir / "no_bytes");
  write_text(dir / "no_bytes/vocab.json", R"({"a": 0, "b": 1})");
  write_text(dir / "no_bytes/merges.txt", "");
  msg = error_of([&] { BpeTokenizer::load(dir / "no_bytes"); });
  EXPECT_NE(msg.find("no token for byte"), std::string::npos) << msg;
}

TEST(BpeErrors, UnknownIdsAreRejectedOnDecode) {
  EXPECT_THROW(gpt2().decode({15496, 50257}), DataError);
  EXPECT_THROW(gpt2().token_bytes(1u << 30), DataError);
}

}  // namespace
}  // namespace anvil::data
