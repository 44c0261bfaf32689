// The trainer: bit-for-bit resume, checkpoint pruning and atomicity (a full disk while saving),
// metrics files, and architecture mismatches on resume.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <csignal>
#include <cstring>
#include <fstream>

#include "core/io/safetensors.h"
#include "data/bpe/tokenizer.h"
#include "data/shards/shard.h"
#include "tests/support/test_paths.h"
#include "tests/support/train_fixtures.h"
#include "train/checkpoint/checkpoint.h"
#include "train/metrics/metrics.h"
#include "train/trainer.h"

namespace anvil::train {
namespace {

namespace fs = std::filesystem;

Config small_config(const fs::path& dir, const std::string& arch = "gpt2") {
  Config c = test::small_train_config(dir / "data", dir / "run", arch);
  c.run.seed = 7;
  c.training.global_batch_tokens = 4 * 16 * 2;  // two micro-batches per step
  c.training.max_steps = 12;
  c.training.eval_every = 6;
  c.training.eval_steps = 2;
  c.training.log_every = 3;
  c.training.checkpoint_every = 4;
  c.training.keep_checkpoints = 2;
  c.training.sample_every = 0;
  c.scheduler.warmup_steps = 3;
  c.model.dropout = 0.1;  // exercises the dropout RNG state across resume
  validate_config(c);
  return c;
}

std::vector<char> file_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

TEST(Trainer, StoppedAndResumedRunEqualsUninterruptedRunBitForBit) {
  fs::path dir = test::scratch_dir();
  test::write_synthetic_corpus(dir / "data", 64, 6000, 1);
  TrainOptions quiet;
  quiet.quiet = true;

  Config a = small_config(dir / "a");
  a.data = small_config(dir).data;
  TrainSummary full = train(a, quiet);
  ASSERT_EQ(full.steps_done, 12);
  ASSERT_EQ(full.history.size(), 12u);
  EXPECT_LT(full.history.back().loss, full.history.front().loss);

  Config b = small_config(dir / "b");
  b.data = a.data;
  TrainOptions stop = quiet;
  stop.stop_after_step = 5;  // mid-way between checkpoints: the resume starts from the step-5 save
  TrainSummary first = train(b, stop);
  ASSERT_EQ(first.steps_done, 5);
  TrainSummary second = train(b, quiet);
  EXPECT_EQ(second.resumed_from, 5);
  ASSERT_EQ(second.steps_done, 12);

  std::vector<StepRecord> joined = first.history;
  joined.insert(joined.end(), second.history.begin(), second.history.end());
  ASSERT_EQ(joined.size(), full.history.size());
  for (size_t i = 0; i < joined.size(); ++i) {
    EXPECT_EQ(joined[i].loss, full.history[i].loss) << "step " << i + 1;  // exact, not approximate
    EXPECT_EQ(joined[i].grad_norm, full.history[i].grad_norm) << "step " << i + 1;
  }
  fs::path wa = fs::path(a.run.output_dir) / "checkpoints" / checkpoint_name(12) / "model.safetensors";
  fs::path wb = fs::path(b.run.output_dir) / "checkpoints" / checkpoint_name(12) / "model.safetensors";
  EXPECT_EQ(file_bytes(wa), file_bytes(wb));
  EXPECT_EQ(full.last_val_loss, second.last_val_loss);
}

TEST(Trainer, WritesMetricsConfigAndKeepsTheNewestCheckpoints) {
  fs::path dir = test::scratch_dir();
  test::write_synthetic_corpus(dir / "data", 64, 6000, 2);
  Config c = small_config(dir);
  TrainOptions quiet;
  quiet.quiet = true;
  train(c, quiet);
  fs::path out = c.run.output_dir;
  EXPECT_TRUE(fs::exists(out / "config.yaml"));
  EXPECT_EQ(load_config(out / "config.yaml"), [&] {
    Config r = c;
    r.source_path = (out / "config.yaml").string();
    return r;
  }());
  // checkpoint_every 4 with keep 2: steps 8 and 12 remain.
  std::vector<std::string> names;
  for (auto& e : fs::directory_iterator(out / "checkpoints")) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{checkpoint_name(8), checkpoint_name(12)}));
  // JSONL: a line per log step and per eval.
  std::ifstream jl(out / "metrics.jsonl");
  int loss_lines = 0, val_lines = 0;
  for (std::string line; std::getline(jl, line);) {
    auto j = nlohmann::json::parse(line);
    loss_lines += j.contains("loss");
    val_lines += j.contains("val_loss");
  }
  EXPECT_EQ(loss_lines, 4);
  EXPECT_EQ(val_lines, 2);
  // TensorBoard: one events file whose records all carry valid CRCs.
  fs::path events;
  for (auto& e : fs::directory_iterator(out / "tb")) events = e.path();
  auto bytes = file_bytes(events);
  size_t pos = 0;
  int records = 0;
  while (pos < bytes.size()) {
    ASSERT_LE(pos + 12, bytes.size());
    uint64_t len;
    uint32_t len_crc, data_crc;
    std::memcpy(&len, &bytes[pos], 8);
    std::memcpy(&len_crc, &bytes[pos + 8], 4);
    ASSERT_EQ(len_crc, masked_crc32c(&len, 8));
    ASSERT_LE(pos + 12 + len + 4, bytes.size());
    std::memcpy(&data_crc, &bytes[pos + 12 + len], 4);
    ASSERT_EQ(data_crc, masked_crc32c(&bytes[pos + 12], len));
    pos += 12 + len + 4;
    ++records;
  }
  EXPECT_EQ(records, 1 + 4 * 4 + 2);  // file_version + 4 scalars per log step + val losses
  EXPECT_NE(std::string(bytes.begin(), bytes.end()).find("train/loss"), std::string::npos);
}

TEST(Metrics, Crc32cMatchesTheStandardCheckValue) {
  const char* s = "123456789";
  EXPECT_EQ(crc32c(s, 9), 0xE3069283u);
}

TEST(Checkpoint, AFullDiskWhileSavingLeavesEarlierCheckpointsIntact) {
  fs::path dir = test::scratch_dir();
  CheckpointManager m(dir / "ck", 3);
  CheckpointData d;
  Generator g(3);
  d.model["w"] = Tensor::randn({64, 64}, g);
  d.state = {{"step", 1}};
  d.config_yaml = "run: {}\n";
  m.save(1, d);
  // Limit the size of files this process may write (RLIMIT_FSIZE): writes past it fail with
  // EFBIG, as they would with ENOSPC on a full disk.
  struct rlimit old {};
  getrlimit(RLIMIT_FSIZE, &old);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = old;
  small.rlim_cur = 4096;
  setrlimit(RLIMIT_FSIZE, &small);
  d.state["step"] = 2;
  EXPECT_THROW(m.save(2, d), RuntimeFailure);
  setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);
  ASSERT_TRUE(m.latest().has_value());
  EXPECT_EQ(m.latest()->filename().string(), checkpoint_name(1));
  CheckpointData back = load_checkpoint(*m.latest());
  EXPECT_EQ(back.model.at("w").to_f32_vector(), d.model.at("w").to_f32_vector());
  for (auto& e : fs::directory_iterator(dir / "ck"))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
}

TEST(Trainer, ResumingACheckpointOfAnotherArchitectureIsAnError) {
  fs::path dir = test::scratch_dir();
  test::write_synthetic_corpus(dir / "data", 64, 6000, 4);
  TrainOptions quiet;
  quiet.quiet = true;
  Config llama = small_config(dir, "llama");
  llama.model.dropout = 0.0;
  llama.training.max_steps = 2;
  llama.scheduler.warmup_steps = 1;
  llama.training.checkpoint_every = 0;
  train(llama, quiet);
  Config gpt2 = small_config(dir, "gpt2");
  gpt2.training.max_steps = 4;
  try {
    train(gpt2, quiet);
    FAIL() << "expected a CheckpointError";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("llama"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(checkpoint_name(2)), std::string::npos) << e.what();
  }
}

TEST(CheckSupported, ACudaHeadDimAboveTheKernelLimitIsAConfigErrorNotAnOpError) {
  Config c = test::small_train_config("data", "run");
  c.run.device = "cuda";
  c.model.d_model = 1024;
  c.model.n_head = 2;  // head dim 512: the CUDA attention op would reject it mid-run as a bug
  try {
    check_supported(c);
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("head dim"), std::string::npos) << e.what();
  }
  c.model.n_head = 8;  // 128
  EXPECT_NO_THROW(check_supported(c));
  c.model.n_head = 2;
  c.run.device = "cpu";  // the CPU path has no such limit
  EXPECT_NO_THROW(check_supported(c));
}

// kernels.gemm: cublas and kernels.attention: cudnn used to be accepted and silently ignored.
TEST(CheckSupported, VendorKernelBackendsThatAreNotWiredAreRefused) {
  Config c = test::small_train_config("data", "run");
  c.run.device = "cuda";
  EXPECT_NO_THROW(check_supported(c));
  c.kernels.gemm = "cublas";
  try {
    check_supported(c);
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("kernels.gemm: cublas is not wired"), std::string::npos) << e.what();
  }
  c.kernels.gemm = "anvil";
  c.kernels.attention = "cudnn";
  EXPECT_THROW(check_supported(c), ConfigError);
}

// The events of every TensorBoard file under dir: (step, is SessionLog START) of each record.
std::vector<std::pair<int64_t, bool>> session_starts(const fs::path& dir) {
  std::vector<std::pair<int64_t, bool>> out;
  for (auto& e : fs::directory_iterator(dir)) {
    const std::vector<char> bytes = file_bytes(e.path());
    size_t pos = 0;
    while (pos + 12 <= bytes.size()) {
      uint64_t len;
      std::memcpy(&len, &bytes[pos], 8);
      const std::string ev(&bytes[pos + 12], size_t(len));
      // Event { step = 2 (varint); session_log = 7 { status = 1 } }: the writer puts step before it.
      const size_t sl = ev.find(std::string("\x3a\x02\x08\x01", 4));
      if (sl != std::string::npos && ev.size() > 9 && ev[9] == '\x10') {
        int64_t step = 0;
        for (size_t i = 10, shift = 0; i < ev.size(); ++i, shift += 7) {
          step |= int64_t(uint8_t(ev[i]) & 0x7f) << shift;
          if (!(uint8_t(ev[i]) & 0x80)) break;
        }
        out.push_back({step, true});
      }
      pos += 12 + len + 4;
    }
  }
  return out;
}

TEST(Trainer, ResumingBeforeTheLastLoggedStepLogsEachStepOnce) {
  fs::path dir = test::scratch_dir();
  test::write_synthetic_corpus(dir / "data", 64, 6000, 5);
  Config c = small_config(dir);
  c.logging.tensorboard = true;
  TrainOptions quiet;
  quiet.quiet = true;
  train(c, quiet);
  const fs::path out = c.run.output_dir;
  // As if the run had been killed before saving step 12: a rerun resumes at 8 and trains 9..12 again.
  fs::remove_all(out / "checkpoints" / checkpoint_name(12));
  TrainSummary again = train(c, quiet);
  ASSERT_EQ(again.resumed_from, 8);
  ASSERT_EQ(again.steps_done, 12);
  std::vector<int64_t> loss_steps, val_steps;
  std::ifstream jl(out / "metrics.jsonl");
  for (std::string line; std::getline(jl, line);) {
    auto j = nlohmann::json::parse(line);
    if (j.contains("loss")) loss_steps.push_back(j["step"].get<int64_t>());
    if (j.contains("val_loss")) val_steps.push_back(j["step"].get<int64_t>());
  }
  EXPECT_EQ(loss_steps, (std::vector<int64_t>{3, 6, 9, 12}));
  EXPECT_EQ(val_steps, (std::vector<int64_t>{6, 12}));
  // TensorBoard: the rerun's events start with SessionLog START at step 9 (TensorBoard then drops
  // the first run's events of steps >= 9).
  EXPECT_EQ(session_starts(out / "tb"), (std::vector<std::pair<int64_t, bool>>{{9, true}}));
}

TEST(Trainer, ATokenizerLargerThanTheModelVocabularyStopsBeforeAnyFileIsWritten) {
  fs::path dir = test::scratch_dir();
  test::write_synthetic_corpus(dir / "data", 64, 6000, 6);
  Config c = small_config(dir);
  c.data.tokenizer = (test::shared_dir() / "data/gpt2-tokenizer").string();  // 50257 tokens, model 64
  TrainOptions quiet;
  quiet.quiet = true;
  try {
    train(c, quiet);
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("data.tokenizer"), std::string::npos) << what;
    EXPECT_NE(what.find("vocab.json"), std::string::npos) << what;
    EXPECT_NE(what.find("50257"), std::string::npos) << what;
    EXPECT_NE(what.find("64"), std::string::npos) << what;
  }
  EXPECT_FALSE(fs::exists(c.run.output_dir));
}

TEST(Trainer, SamplesWithATokenizerSmallerThanTheModelVocabularyDecode) {
  fs::path dir = test::scratch_dir();
  // The model learns ids 300..363, which a 270-token tokenizer cannot decode: the samples must
  // stay below 270 anyway.
  std::vector<uint32_t> tokens(6000);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = uint32_t(300 + (i * 7) % 64);
  fs::create_directories(dir / "data");
  data::write_shard(dir / "data/train_000000.bin", tokens, 2);
  data::write_shard(dir / "data/val_000000.bin", tokens, 2);
  std::string corpus;
  for (int i = 0; i < 100; ++i) corpus += "the cat sees a dog in the garden. ";
  data::BpeTokenizer::train(corpus, 270).save(dir / "tok");
  Config c = small_config(dir);
  c.model.vocab_size = 384;
  c.data.tokenizer = (dir / "tok").string();
  c.training.sample_tokens = 32;
  TrainOptions loud;  // samples are drawn when not quiet
  TrainSummary s = train(c, loud);
  ASSERT_EQ(s.samples.size(), 3u);
}

}  // namespace
}  // namespace anvil::train
