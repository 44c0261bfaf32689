// The demo pipeline end to end through the `anvil` binary (prepare -> train -> eval -> generate) on a
// small generated corpus, and the exit codes and messages of bad input to `anvil train` and
// `anvil eval`: malformed YAML, unknown keys, bad overrides, missing/empty/truncated/corrupt shards,
// token ids outside the vocabulary, unknown flags.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unistd.h>

#include "core/base/rng.h"
#include "data/shards/shard.h"
#include "kernels/device_runtime.h"
#include "tests/support/test_paths.h"

namespace anvil {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Quoted for the shell (appended piecewise: GCC 12 misreads `"'" + std::string` under -Wrestrict).
std::string quote(const fs::path& p) {
  std::string quoted = "'";
  quoted += p.string();
  return quoted += "'";
}

test::CommandResult anvil(const std::string& args) {
  return test::run_command(test::anvil_binary().string() + " " + args);
}

void write_text(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

// Sentences from a small grammar: learnable structure (which words follow which) with enough
// variety that memorizing is not possible in a few dozen steps. Paragraphs are documents.
std::string generated_corpus(uint64_t seed, int paragraphs) {
  const std::vector<std::string> subjects = {"the cat", "a dog", "the old man", "my sister", "the farmer",
                                             "a small bird", "the captain", "our teacher"};
  const std::vector<std::string> verbs = {"sees", "finds", "carries", "paints", "remembers", "follows"};
  const std::vector<std::string> objects = {"the red house", "a green apple", "the river", "an empty boat",
                                            "the morning train", "a quiet garden", "the tall tree"};
  const std::vector<std::string> endings = {" today.", " again.", " at night.", " in the rain.", "."};
  std::string out;
  uint64_t counter = 0;
  auto pick = [&](const std::vector<std::string>& v) { return v[Philox4x32::word(seed, counter++) % v.size()]; };
  for (int p = 0; p < paragraphs; ++p) {
    const int sentences = 2 + int(Philox4x32::word(seed, counter++) % 4);
    for (int s = 0; s < sentences; ++s) {
      std::string sentence = pick(subjects) + " " + pick(verbs) + " " + pick(objects) + pick(endings);
      sentence[0] = char(std::toupper(static_cast<unsigned char>(sentence[0])));
      out += sentence + " ";
    }
    out += "\n\n";
  }
  return out;
}

// The entropy (nats) of the token frequencies of the shards matching a pattern: what a model that
// ignores context achieves at best.
double unigram_entropy(const std::string& pattern) {
  std::map<uint32_t, double> counts;
  double total = 0;
  for (const auto& path : data::expand_glob(pattern)) {
    data::TokenShard shard = data::TokenShard::open(path);
    for (int64_t i = 0; i < shard.size(); ++i) counts[shard[i]] += 1, total += 1;
  }
  double h = 0;
  for (const auto& [id, c] : counts) h -= c / total * std::log(c / total);
  return h;
}

std::vector<json> jsonl_records(const fs::path& path) {
  std::vector<json> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(json::parse(line));
  return out;
}

json last_json_line(const std::string& output) {
  json found;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] == '{') found = json::parse(line);
  return found;
}

// A config for a very small GPT-2 over data under `data`, writing to `run`; samples use the
// tokenizer under data/tokenizer when with_tokenizer (the folder must then exist).
std::string tiny_config(const fs::path& data, const fs::path& run, int vocab, bool with_tokenizer = true) {
  std::ostringstream c;
  c << "run: {name: e2e, output_dir: " << run.string() << ", seed: 3}\n"
    << "model: {arch: gpt2, n_layer: 2, n_head: 2, d_model: 48, vocab_size: " << vocab << ", max_seq_len: 32}\n"
    << "data: {train: " << (data / "train_*.bin").string() << ", val: " << (data / "val_*.bin").string()
    << ", tokenizer: '" << (with_tokenizer ? (data / "tokenizer").string() : "") << "', seq_len: 32}\n"
    << "training: {micro_batch_size: 8, global_batch_tokens: 256, max_steps: 80, eval_every: 40, eval_steps: 4,\n"
    << "           log_every: 10, checkpoint_every: 40, keep_checkpoints: 2, sample_every: " << (with_tokenizer ? 80 : 0)
    << ", sample_tokens: 16}\n"
    << "optimizer: {name: adamw, lr: 3.0e-3, weight_decay: 0.1}\n"
    << "scheduler: {name: cosine, warmup_steps: 10, min_lr_ratio: 0.1}\n"
    << "logging: {jsonl: true, tensorboard: true, progress: never}\n";
  return c.str();
}

TEST(TrainCli, PrepareTrainEvalGenerateLearnsBeyondUnigramStatistics) {
  const fs::path dir = test::scratch_dir();
  write_text(dir / "corpus/a.txt", generated_corpus(11, 600));
  write_text(dir / "corpus/b.txt", generated_corpus(12, 600));
  const fs::path data = dir / "data";
  auto prep = anvil("prepare --input " + quote(dir / "corpus/a.txt") + " " + quote(dir / "corpus/b.txt") +
                    " --output " + quote(data) + " --tokenizer " + quote(data / "tokenizer") +
                    " --train-tokenizer 384 --val-fraction 0.05");
  ASSERT_EQ(prep.exit_code, 0) << prep.output;

  write_text(dir / "tiny.yaml", tiny_config(data, dir / "run", 384));
  auto train = anvil("train " + quote(dir / "tiny.yaml"));
  ASSERT_EQ(train.exit_code, 0) << train.output;
  EXPECT_NE(train.output.find("trained e2e to step 80"), std::string::npos) << train.output;
  EXPECT_NE(train.output.find("--- sample 1 ---"), std::string::npos) << train.output;

  // Val loss from the trainer's metrics, against the corpus's unigram entropy.
  const double h_unigram = unigram_entropy((data / "train_*.bin").string());
  double val_loss = -1;
  for (const json& r : jsonl_records(dir / "run/metrics.jsonl"))
    if (r.contains("val_loss")) val_loss = r["val_loss"].get<double>();
  ASSERT_GT(val_loss, 0) << "no val_loss in metrics.jsonl";
  EXPECT_LT(val_loss, h_unigram - 0.5) << "unigram entropy " << h_unigram;
  EXPECT_TRUE(fs::exists(dir / "run/config.yaml"));
  EXPECT_FALSE(fs::is_empty(dir / "run/tb"));

  // eval over every val window agrees with the trainer's evaluation (the same weights, data and T;
  // the trainer averaged eval_steps batches, eval averages all windows, so allow a little).
  auto eval = anvil("eval --checkpoint " + quote(dir / "run") + " --data " + quote(data / "val_*.bin"));
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  json e = last_json_line(eval.output);
  ASSERT_TRUE(e.is_object()) << eval.output;
  const double eval_loss = e["loss"].get<double>();
  EXPECT_NEAR(eval_loss, val_loss, 0.15) << eval.output;
  EXPECT_NEAR(e["perplexity"].get<double>(), std::exp(eval_loss), 1e-9 * std::exp(eval_loss));
  EXPECT_EQ(e["tokens"].get<int64_t>(), e["windows"].get<int64_t>() * 32);

  // --max-batches 1 evaluates exactly one batch of micro_batch_size windows.
  auto quick = anvil("eval --checkpoint " + quote(dir / "run") + " --data " + quote(data / "val_*.bin") +
                     " --max-batches 1 --batch-size 2");
  ASSERT_EQ(quick.exit_code, 0) << quick.output;
  EXPECT_EQ(last_json_line(quick.output)["windows"].get<int64_t>(), 2);

  // generate continues the prompt with words from the corpus, the same text for the same seed.
  const std::string gen_args = "generate --checkpoint " + quote(dir / "run") +
                               " --prompt 'The cat' --max-new-tokens 24 --temperature 0.7 --seed 5";
  auto g1 = anvil(gen_args), g2 = anvil(gen_args);
  ASSERT_EQ(g1.exit_code, 0) << g1.output;
  EXPECT_EQ(g1.output, g2.output);
  EXPECT_NE(g1.output.find("The cat"), std::string::npos) << g1.output;
  EXPECT_GT(g1.output.size(), std::string("The cat").size() + 20) << g1.output;

  // generate also takes a Hugging Face folder (the golden tiny GPT-2 has the same 384-token
  // vocabulary size as the tokenizer trained above); greedy decoding is deterministic.
  const fs::path hf = test::shared_dir() / "data/golden/gpt2_tiny";
  const std::string hf_args = "generate --checkpoint " + quote(hf) + " --tokenizer " + quote(data / "tokenizer") +
                              " --prompt 'A dog' --max-new-tokens 8 --temperature 0";
  auto h1 = anvil(hf_args), h2 = anvil(hf_args);
  ASSERT_EQ(h1.exit_code, 0) << h1.output;
  EXPECT_EQ(h1.output, h2.output);
  EXPECT_EQ(h1.output.rfind("A dog", 0), 0u) << h1.output;
  auto no_tok = anvil("generate --checkpoint " + quote(hf) + " --prompt 'A dog'");
  EXPECT_EQ(no_tok.exit_code, 2) << no_tok.output;
  EXPECT_NE(no_tok.output.find("--tokenizer"), std::string::npos) << no_tok.output;
}

// A valid shard folder with the given token ids in train and val.
void write_shards(const fs::path& data, const std::vector<uint32_t>& tokens) {
  fs::create_directories(data);
  data::write_shard(data / "train_000000.bin", tokens, 2);
  data::write_shard(data / "val_000000.bin", tokens, 2);
}

std::vector<uint32_t> cyclic_tokens(int64_t n, uint32_t vocab) {
  std::vector<uint32_t> t(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) t[size_t(i)] = uint32_t(i * 7 % vocab);
  return t;
}

class TrainCliBadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::scratch_dir();
    write_shards(dir_ / "data", cyclic_tokens(4000, 384));
  }
  // Runs `anvil train` on the given config text with CLI `overrides`.
  test::CommandResult train(const std::string& config_text, const std::string& overrides = "") {
    write_text(dir_ / "run.yaml", config_text);
    return anvil("train " + quote(dir_ / "run.yaml") + " " + overrides);
  }
  std::string good_config() const { return tiny_config(dir_ / "data", dir_ / "run", 384, /*with_tokenizer=*/false); }
  // Runs `anvil train` and expects exit 2 with `key` and `path` named and no run folder made.
  void expect_rejected_before_writing(const std::string& config_text, const std::string& overrides,
                                      const std::string& key, const std::string& path) {
    fs::remove_all(dir_ / "run");
    auto r = train(config_text, overrides);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find(key), std::string::npos) << "expected the key " << key << " in:\n" << r.output;
    EXPECT_NE(r.output.find(path), std::string::npos) << "expected the path " << path << " in:\n" << r.output;
    EXPECT_FALSE(fs::exists(dir_ / "run")) << "a rejected config must not create the run folder: " << overrides;
  }
  // Every file under the run folder with its contents and modification time.
  std::map<std::string, std::pair<std::string, fs::file_time_type>> run_files() const {
    std::map<std::string, std::pair<std::string, fs::file_time_type>> out;
    for (const auto& e : fs::recursive_directory_iterator(dir_ / "run"))
      if (e.is_regular_file()) {
        std::ifstream in(e.path(), std::ios::binary);
        out[e.path().string()] = {std::string(std::istreambuf_iterator<char>(in), {}), e.last_write_time()};
      }
    return out;
  }
  fs::path dir_;
};

TEST_F(TrainCliBadInput, MalformedYamlNamesFileAndLine) {
  auto r = train(good_config() + "training: {max_steps: [1, 2\n");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("run.yaml:"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir_ / "run")) << "nothing may be written for a config that does not load";
}

TEST_F(TrainCliBadInput, UnknownKeySuggestsTheClosest) {
  std::string text = good_config();
  text.replace(text.find("max_steps"), 9, "max_stpes");
  auto r = train(text);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("run.yaml:4"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("training.max_stpes"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("did you mean"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("max_steps"), std::string::npos) << r.output;
}

TEST_F(TrainCliBadInput, WrongTypeAndBadOverride) {
  auto r = train(good_config(), "training.max_steps=many");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("training.max_steps"), std::string::npos) << r.output;
  auto r2 = train(good_config(), "optimizer.lr=-1");
  EXPECT_EQ(r2.exit_code, 2) << r2.output;
  EXPECT_NE(r2.output.find("optimizer.lr"), std::string::npos) << r2.output;
  auto r3 = train(good_config(), "no_equals_sign");
  EXPECT_EQ(r3.exit_code, 2) << r3.output;
  EXPECT_NE(r3.output.find("no_equals_sign"), std::string::npos) << r3.output;
}

TEST_F(TrainCliBadInput, MissingAndEmptyDataPaths) {
  auto r = train(good_config(), "data.train=" + quote(dir_ / "nowhere/train_*.bin"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("nowhere/train_*.bin"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("matches no files"), std::string::npos) << r.output;

  write_text(dir_ / "empty/train_000000.bin", "");
  auto r2 = train(good_config(), "data.train=" + quote(dir_ / "empty/train_*.bin"));
  EXPECT_EQ(r2.exit_code, 2) << r2.output;
  EXPECT_NE(r2.output.find("empty/train_000000.bin"), std::string::npos) << r2.output;
}

TEST_F(TrainCliBadInput, EveryConfigPathIsCheckedBeforeAnythingIsWritten) {
  const std::string cfg = good_config();
  expect_rejected_before_writing(cfg, "data.train=" + quote(dir_ / "nowhere/train_*.bin"), "data.train",
                                 "nowhere/train_*.bin");
  expect_rejected_before_writing(cfg, "data.val=" + quote(dir_ / "nowhere/val_*.bin"), "data.val",
                                 "nowhere/val_*.bin");
  expect_rejected_before_writing(cfg, "data.tokenizer=" + quote(dir_ / "no_such_tokenizer"), "data.tokenizer",
                                 "no_such_tokenizer");
  fs::create_directories(dir_ / "not_a_tokenizer");
  expect_rejected_before_writing(cfg, "data.tokenizer=" + quote(dir_ / "not_a_tokenizer"), "data.tokenizer",
                                 "not_a_tokenizer");
  expect_rejected_before_writing(cfg, "model.init_from=" + quote(dir_ / "no_such_model"), "model.init_from",
                                 "no_such_model");
  write_text(dir_ / "a_file", "not a folder");
  fs::remove_all(dir_ / "run");
  auto r = train(cfg, "run.output_dir=" + quote(dir_ / "a_file/run"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("run.output_dir"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("a_file"), std::string::npos) << r.output;
  if (::geteuid() != 0) {  // root writes anywhere: permissions cannot make a folder unwritable for it
    fs::create_directories(dir_ / "locked");
    fs::permissions(dir_ / "locked", fs::perms::owner_read | fs::perms::owner_exec);
    auto r2 = train(cfg, "run.output_dir=" + quote(dir_ / "locked/run"));
    EXPECT_EQ(r2.exit_code, 2) << r2.output;
    EXPECT_NE(r2.output.find("not writable"), std::string::npos) << r2.output;
    fs::permissions(dir_ / "locked", fs::perms::owner_all);
  }
}

TEST_F(TrainCliBadInput, EmptyConfigsAndMissingSectionsAreErrors) {
  auto empty = train("");
  EXPECT_EQ(empty.exit_code, 2) << empty.output;
  EXPECT_NE(empty.output.find("run.yaml"), std::string::npos) << empty.output;
  EXPECT_NE(empty.output.find("empty"), std::string::npos) << empty.output;
  auto comments = train("# nothing here yet\n\n# still nothing\n");
  EXPECT_EQ(comments.exit_code, 2) << comments.output;
  EXPECT_NE(comments.output.find("empty"), std::string::npos) << comments.output;

  std::string no_model = good_config();
  no_model.erase(no_model.find("model:"), no_model.find("\n", no_model.find("model:")) - no_model.find("model:") + 1);
  auto r = train(no_model);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("no 'model' section"), std::string::npos) << r.output;
  std::string no_data = good_config();
  no_data.erase(no_data.find("data:"), no_data.find("\n", no_data.find("data:")) - no_data.find("data:") + 1);
  auto r2 = train(no_data);
  EXPECT_EQ(r2.exit_code, 2) << r2.output;
  EXPECT_NE(r2.output.find("no 'data' section"), std::string::npos) << r2.output;
  EXPECT_FALSE(fs::exists(dir_ / "run"));
}

TEST_F(TrainCliBadInput, WarmupLongerThanTheRunIsClampedWithAWarning) {
  // tiny_config warms up for 10 steps; a 5-step run trains with the warmup clamped to 5.
  auto r = train(good_config(), "training.max_steps=5 training.eval_every=0 training.checkpoint_every=5");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("warning: scheduler.warmup_steps (10) is longer than training.max_steps (5)"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("trained e2e to step 5"), std::string::npos) << r.output;
}

TEST_F(TrainCliBadInput, RerunOfACompleteRunSaysSoAndTouchesNothing) {
  const std::string overrides = "training.max_steps=4 training.eval_every=0 training.checkpoint_every=4";
  auto first = train(good_config(), overrides);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const auto before = run_files();
  auto again = train(good_config(), overrides);
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("already complete at step 4"), std::string::npos) << again.output;
  EXPECT_NE(again.output.find("raise training.max_steps"), std::string::npos) << again.output;
  EXPECT_EQ(again.output.find("train loss"), std::string::npos) << again.output;
  EXPECT_EQ(run_files(), before) << "a complete run's files must not change";
}

TEST_F(TrainCliBadInput, ResumedRunKeepsOneMetricsRowPerStep) {
  // Train to 8 with checkpoints at 4 and 8, lose the last checkpoint (as a crash after step 4
  // would), and rerun: it resumes at 4 and logs steps 5..8 again.
  const std::string overrides =
      "training.max_steps=8 training.eval_every=0 training.checkpoint_every=4 training.log_every=1";
  ASSERT_EQ(train(good_config(), overrides).exit_code, 0);
  fs::path last;
  for (const auto& e : fs::directory_iterator(dir_ / "run/checkpoints"))
    if (e.path().filename().string() > last.filename().string()) last = e.path();
  ASSERT_NE(last.filename().string().find("8"), std::string::npos) << last;
  fs::remove_all(last);
  auto r = train(good_config(), overrides);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::map<int64_t, int> rows_per_step;
  for (const json& row : jsonl_records(dir_ / "run/metrics.jsonl"))
    if (row.contains("loss")) rows_per_step[row["step"].get<int64_t>()] += 1;
  ASSERT_EQ(rows_per_step.size(), 8u);
  for (const auto& [step, n] : rows_per_step) EXPECT_EQ(n, 1) << "step " << step << " is logged " << n << " times";
}

TEST_F(TrainCliBadInput, TruncatedShardAndBadMagicNameTheFile) {
  const fs::path shard = dir_ / "data/train_000000.bin";
  const auto full = fs::file_size(shard);
  fs::resize_file(shard, full - 10);
  auto r = train(good_config());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("train_000000.bin"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("truncated"), std::string::npos) << r.output;

  write_shards(dir_ / "data", cyclic_tokens(4000, 384));
  {
    std::fstream f(shard, std::ios::in | std::ios::out | std::ios::binary);
    f.write("NOTATOK", 7);
  }
  auto r2 = train(good_config());
  EXPECT_EQ(r2.exit_code, 2) << r2.output;
  EXPECT_NE(r2.output.find("train_000000.bin"), std::string::npos) << r2.output;
  EXPECT_NE(r2.output.find("bad magic"), std::string::npos) << r2.output;
}

TEST_F(TrainCliBadInput, TokenIdsOutsideTheVocabulary) {
  write_shards(dir_ / "data", cyclic_tokens(4000, 500));  // ids up to 499, vocabulary 384
  auto r = train(good_config());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("vocab"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("train_000000.bin"), std::string::npos) << r.output;
}

TEST_F(TrainCliBadInput, CudaDeviceWithoutAGpu) {
  if (kernels::cuda_device_count() > 0) GTEST_SKIP() << "this machine has a GPU (trainer_gpu_test covers it)";
  auto r = train(good_config(), "run.device=cuda");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("run.device: cuda"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir_ / "run" / "checkpoints")) << r.output;
}

TEST_F(TrainCliBadInput, UnknownFlagsAndMissingArguments) {
  auto r = anvil("train --no-such-flag " + quote(dir_ / "run.yaml"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--no-such-flag"), std::string::npos) << r.output;
  auto r2 = anvil("eval --checkpoint " + quote(dir_ / "no_run"));
  EXPECT_EQ(r2.exit_code, 2) << r2.output;
  EXPECT_NE(r2.output.find("--data"), std::string::npos) << r2.output;
  auto r3 = anvil("eval --checkpoint " + quote(dir_ / "no_run") + " --data " + quote(dir_ / "data/val_*.bin"));
  EXPECT_EQ(r3.exit_code, 2) << r3.output;
  EXPECT_NE(r3.output.find("no_run"), std::string::npos) << r3.output;
  auto r4 = anvil("frobnicate");
  EXPECT_EQ(r4.exit_code, 2) << r4.output;
  auto help = anvil("eval --help");
  EXPECT_EQ(help.exit_code, 0) << help.output;
  EXPECT_NE(help.output.find("--checkpoint"), std::string::npos) << help.output;
}

}  // namespace
}  // namespace anvil
