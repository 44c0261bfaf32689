// The YAML config loader: example configs, base: inheritance, override precedence, derived
// defaults, every kind of error (checked by message content: place, key, expectation, hint) and
// the config_to_yaml round trip.
#include "train/config/config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <type_traits>

#include "core/base/error.h"
#include "tests/support/test_paths.h"
#include "train/session.h"
#include "train/trainer.h"

namespace anvil::train {
namespace {

namespace fs = std::filesystem;

fs::path write_file(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
  return path;
}

// The ConfigError message load_config throws (fails the test when nothing is thrown).
std::string load_error(const fs::path& file, const std::vector<std::string>& overrides = {}) {
  try {
    load_config(file, overrides);
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a ConfigError loading " << file;
  return "";
}

// `text` with empty model: and data: sections appended where it has none (every config needs both;
// appended, so the line numbers of errors in `text` stay).
std::string with_required_sections(std::string text) {
  for (const char* section : {"model", "data"}) {
    const std::string key = std::string(section) + ":";
    if (text.rfind(key, 0) != 0 && text.find("\n" + key) == std::string::npos) text += "\n" + key + " {}\n";
  }
  return text;
}

// Loads a one-file config with the given text (plus any missing required section) and returns the
// error message.
std::string error_for_text(const std::string& text, const std::vector<std::string>& overrides = {}) {
  return load_error(write_file(test::scratch_dir() / "c.yaml", with_required_sections(text)), overrides);
}

fs::path example(const std::string& name) { return test::source_dir() / "configs" / name; }

TEST(ConfigExamples, TinyLoadsAsACpuGpt2) {
  const Config c = load_config(example("tiny.yaml"));
  EXPECT_EQ(c.model.arch, "gpt2");
  EXPECT_EQ(c.run.device, "cpu");
  EXPECT_EQ(c.model.vocab_size, 4096);
  EXPECT_EQ(c.data.seq_len, 128);
  EXPECT_EQ(c.model.d_ff, 4 * c.model.d_model);
  EXPECT_EQ(c.model.n_kv_head, c.model.n_head);
  EXPECT_TRUE(c.model.tie_embeddings);
  EXPECT_EQ(c.run.output_dir, "runs/tiny");
  EXPECT_EQ(c.source_path, example("tiny.yaml").string());
  EXPECT_GE(grad_accum_steps(c, 1), 1);
}

TEST(ConfigExamples, LlamaTinyInheritsTinyAndSwitchesArchDefaults) {
  const Config tiny = load_config(example("tiny.yaml"));
  const Config c = load_config(example("llama-tiny.yaml"));
  EXPECT_EQ(c.model.arch, "llama");
  EXPECT_LT(c.model.n_kv_head, c.model.n_head);
  EXPECT_EQ(c.model.n_head % c.model.n_kv_head, 0);
  EXPECT_FALSE(c.model.tie_embeddings);
  EXPECT_EQ(c.model.d_ff, 384);  // 2/3 * 4 * 128 = 341.3 -> rounded up to a multiple of 64
  EXPECT_EQ(c.data, tiny.data);
  EXPECT_EQ(c.training, tiny.training);
  EXPECT_EQ(c.optimizer, tiny.optimizer);
  EXPECT_NE(c.run.output_dir, tiny.run.output_dir);
}

TEST(ConfigExamples, Gpt2SmallMatchesTheLlmcRecipe) {
  const Config c = load_config(example("gpt2-124m.yaml"));
  EXPECT_EQ(c.model.n_layer, 12);
  EXPECT_EQ(c.model.d_model, 768);
  EXPECT_EQ(c.model.d_ff, 3072);
  EXPECT_EQ(c.model.vocab_size, 50304);
  EXPECT_EQ(c.training.precision, "fp32");  // until mixed precision lands (see the file's comment)
  EXPECT_DOUBLE_EQ(c.optimizer.lr, 6e-4);
  EXPECT_DOUBLE_EQ(c.optimizer.beta2, 0.95);
  EXPECT_EQ(c.scheduler.warmup_steps, 700);
  EXPECT_EQ(grad_accum_steps(c, 1), 16);
  EXPECT_EQ(grad_accum_steps(c, 8), 2);
  EXPECT_THROW(grad_accum_steps(c, 3), ConfigError);
}

// Every example starts on the machine it is meant for, or stops before writing anything with a
// message saying what to change: it loads, the trainer supports every value in it, its batch
// arithmetic works on one process, and the only paths that may be missing are the data the user
// prepares (the error then says how: `anvil prepare`).
TEST(ConfigExamples, EveryFileUnderConfigsLoadsAndIsSupported) {
  int checked = 0;
  for (const auto& entry : fs::recursive_directory_iterator(test::source_dir() / "configs")) {
    if (entry.path().extension() != ".yaml") continue;
    SCOPED_TRACE(entry.path().string());
    const Config c = load_config(entry.path());
    EXPECT_NO_THROW(check_supported(c));
    EXPECT_NO_THROW(grad_accum_steps(c, 1));
    EXPECT_NO_THROW(schedule_for(c, nullptr));
    try {
      check_config_paths(c);
    } catch (const ConfigError& e) {
      const std::string msg = e.what();
      EXPECT_EQ(msg.rfind("data.", 0), 0u) << msg;
      EXPECT_NE(msg.find("anvil prepare"), std::string::npos) << msg;
    }
    ++checked;
  }
  EXPECT_GE(checked, 3);
}

// There is one ModelConfig: the config's model: section is the models layer's own struct (plus
// init_from), not a second definition copied field by field into it.
TEST(ConfigModel, TheModelSectionIsTheModelsOwnConfig) {
  static_assert(std::is_base_of_v<models::ModelConfig, ModelSection>);
  static_assert(std::is_same_v<decltype(Config::model), ModelSection>);
  const Config c = load_config(example("llama-tiny.yaml"));
  const models::ModelConfig& m = c.model;  // a reference, no conversion
  EXPECT_EQ(m.arch, "llama");
  EXPECT_EQ(m.d_ff, 384);
  EXPECT_NO_THROW(models::validate_config(m, "llama-tiny.yaml"));
}

TEST(ConfigDefaults, EmptySectionsGiveTheDefaultConfig) {
  Config c = load_config(write_file(test::scratch_dir() / "minimal.yaml", "model: {}\ndata: {}\n"));
  c.source_path.clear();
  EXPECT_EQ(c, default_config());
  EXPECT_EQ(default_config().model.d_ff, 4 * default_config().model.d_model);
  // 2/3 * 4 * 4096 = 10922.7 -> 10944, the next multiple of 64.
  EXPECT_EQ(derived_d_ff("llama", 4096), 10944);
}

// An empty file used to train for an hour on the built-in defaults.
TEST(ConfigErrors, EmptyFilesAndMissingSectionsAreErrors) {
  const fs::path dir = test::scratch_dir();
  const std::string empty = load_error(write_file(dir / "empty.yaml", ""));
  EXPECT_NE(empty.find("empty.yaml: the config file is empty"), std::string::npos) << empty;
  EXPECT_NE(empty.find("configs/tiny.yaml"), std::string::npos) << empty;
  EXPECT_NE(load_error(write_file(dir / "comments.yaml", "# a comment\n\n   # another\n"))
                .find("is empty (or holds only comments)"),
            std::string::npos);
  const std::string no_model = load_error(write_file(dir / "no_model.yaml", "data: {seq_len: 64}\n"));
  EXPECT_NE(no_model.find("no 'model' section"), std::string::npos) << no_model;
  // Named even when a default of the missing section would fail a cross-field check.
  const std::string no_data =
      load_error(write_file(dir / "no_data.yaml", "model: {n_layer: 2, max_seq_len: 32}\ntraining: {max_steps: 5}\n"));
  EXPECT_NE(no_data.find("no 'data' section"), std::string::npos) << no_data;
  // A section may come from a base: file.
  write_file(dir / "base.yaml", "model: {n_layer: 2}\n");
  EXPECT_NO_THROW(load_config(write_file(dir / "leaf.yaml", "base: base.yaml\ndata: {seq_len: 64}\n")));
  const std::string chain = load_error(write_file(dir / "leaf2.yaml", "base: base.yaml\nrun: {seed: 1}\n"));
  EXPECT_NE(chain.find("no 'data' section in it or its base: files"), std::string::npos) << chain;
}

TEST(ConfigInheritance, EachFileWinsOverItsBaseAndOverridesWinOverAll) {
  const fs::path dir = test::scratch_dir();
  write_file(dir / "shared/root.yaml",
             "model: {}\ndata: {}\nrun: {name: root, seed: 1}\n"
             "training: {max_steps: 100, log_every: 7}\n"
             "optimizer: {lr: 0.01}\n");
  write_file(dir / "shared/mid.yaml", "base: root.yaml\ntraining: {max_steps: 200}\nrun: {seed: 2}\n");
  const fs::path leaf =
      write_file(dir / "exp/leaf.yaml", "base: ../shared/mid.yaml\nrun:\n  name: leaf\n");
  const Config c = load_config(leaf);
  EXPECT_EQ(c.run.name, "leaf");         // leaf
  EXPECT_EQ(c.run.seed, 2u);             // mid over root
  EXPECT_EQ(c.training.max_steps, 200);  // mid over root
  EXPECT_EQ(c.training.log_every, 7);    // root only
  EXPECT_DOUBLE_EQ(c.optimizer.lr, 0.01);

  const Config o = load_config(leaf, {"training.max_steps=5", "run.name=cli", "optimizer={lr: 0.5}",
                                      "optimizer.betas=[0.8, 0.9]", "training.max_steps=6"});
  EXPECT_EQ(o.training.max_steps, 6);  // the later override wins
  EXPECT_EQ(o.run.name, "cli");
  EXPECT_DOUBLE_EQ(o.optimizer.lr, 0.5);
  EXPECT_DOUBLE_EQ(o.optimizer.beta1, 0.8);
  EXPECT_DOUBLE_EQ(o.optimizer.beta2, 0.9);
  EXPECT_EQ(o.training.log_every, 7);
}

TEST(ConfigInheritance, DerivedDefaultsFollowTheFinalArchUnlessSetExplicitly) {
  const fs::path dir = test::scratch_dir();
  write_file(dir / "gpt.yaml", "model: {arch: gpt2, n_head: 8, d_model: 256}\ndata: {}\n");
  const Config llama = load_config(write_file(dir / "llama.yaml", "base: gpt.yaml\nmodel: {arch: llama}\n"));
  EXPECT_FALSE(llama.model.tie_embeddings);
  EXPECT_EQ(llama.model.d_ff, derived_d_ff("llama", 256));
  EXPECT_EQ(llama.model.n_kv_head, 8);

  write_file(dir / "tied.yaml", "model: {tie_embeddings: true, d_ff: 1000}\ndata: {}\n");
  const Config tied = load_config(write_file(dir / "t.yaml", "base: tied.yaml\nmodel: {arch: llama}\n"));
  EXPECT_TRUE(tied.model.tie_embeddings);
  EXPECT_EQ(tied.model.d_ff, 1000);

  // Reserved sections are accepted when empty.
  EXPECT_NO_THROW(load_config(write_file(dir / "r.yaml", "model: {}\ndata: {}\nfinetune: {}\nqat:\n")));
}

TEST(ConfigErrors, UnknownKeyNamesFileLineAndClosestKey) {
  const std::string msg = error_for_text("run:\n  name: x\ntraining:\n  max_stepz: 5\n");
  EXPECT_NE(msg.find("c.yaml:4:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("training.max_stepz"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'max_steps'?"), std::string::npos) << msg;

  const std::string section = error_for_text("optimiser: {lr: 0.1}\n");
  EXPECT_NE(section.find("c.yaml:1:"), std::string::npos) << section;
  EXPECT_NE(section.find("did you mean 'optimizer'?"), std::string::npos) << section;

  const std::string misplaced = error_for_text("training:\n  lr: 0.1\n");
  EXPECT_NE(misplaced.find("did you mean 'optimizer.lr'?"), std::string::npos) << misplaced;

  const std::string far = error_for_text("model:\n  zzzzzzzzzzzz: 1\n");
  EXPECT_NE(far.find("valid keys:"), std::string::npos) << far;
  EXPECT_EQ(far.find("did you mean"), std::string::npos) << far;
}

TEST(ConfigErrors, WrongTypeAndOutOfRangeSayWhatWasExpected) {
  const std::string type = error_for_text("data: {seq_len: 64}\ntraining:\n\n  micro_batch_size: abc\n");
  EXPECT_NE(type.find("c.yaml:4:"), std::string::npos) << type;
  EXPECT_NE(type.find("training.micro_batch_size"), std::string::npos) << type;
  EXPECT_NE(type.find("a positive integer"), std::string::npos) << type;
  EXPECT_NE(type.find("'abc'"), std::string::npos) << type;

  EXPECT_NE(error_for_text("training: {micro_batch_size: 2.5}\n").find("a positive integer"),
            std::string::npos);
  EXPECT_NE(error_for_text("run: {name: [a, b]}\n").find("run.name: expected a non-empty string, got a list"),
            std::string::npos);
  EXPECT_NE(error_for_text("logging: {jsonl: maybe}\n").find("true or false"), std::string::npos);
  EXPECT_NE(error_for_text("kernels: {tf32: 1.5}\n").find("kernels.tf32"), std::string::npos);
  EXPECT_NE(error_for_text("optimizer: {betas: [0.9]}\n").find("a list of two numbers"),
            std::string::npos);
  const std::string empty = error_for_text("model:\n  n_layer:\n\n");
  EXPECT_NE(empty.find("c.yaml:2: model.n_layer: expected a positive integer, got nothing"),
            std::string::npos) << empty;
  EXPECT_NE(error_for_text("model: notamap\n").find("model: expected a mapping"), std::string::npos);

  const std::string range = error_for_text("training:\n  micro_batch_size: 0\n");
  EXPECT_NE(range.find("c.yaml:2:"), std::string::npos) << range;
  EXPECT_NE(range.find("a positive integer, got '0'"), std::string::npos) << range;
  const std::string dropout = error_for_text("model: {dropout: 1.5}\n");
  EXPECT_NE(dropout.find("model.dropout: expected a number in [0, 1)"), std::string::npos) << dropout;
  EXPECT_NE(error_for_text("optimizer: {lr: -1}\n").find("a positive number"), std::string::npos);
  EXPECT_NE(error_for_text("run: {device: tpu}\n").find("cpu, cuda or cuda:N"), std::string::npos);
}

TEST(ConfigErrors, BadEnumListsTheChoices) {
  const std::string msg = error_for_text("training:\n  precision: fp8\n");
  EXPECT_NE(msg.find("c.yaml:2:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("training.precision: expected one of fp32, bf16, fp16, got 'fp8'"),
            std::string::npos) << msg;
  EXPECT_NE(error_for_text("scheduler: {name: step}\n").find("one of constant, cosine, linear, wsd"),
            std::string::npos);
}

TEST(ConfigErrors, MalformedYamlReportsTheParserPosition) {
  const std::string msg = error_for_text("run:\n  name: x\nmodel: {n_layer: 4\n");
  EXPECT_NE(msg.find("malformed YAML"), std::string::npos) << msg;
  EXPECT_NE(msg.find("c.yaml:"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("c.yaml:1:"), std::string::npos) << msg;  // the error is past line 1
}

TEST(ConfigErrors, MissingFileAndMissingBaseNameThePath) {
  const fs::path dir = test::scratch_dir();
  const std::string missing = load_error(dir / "nope.yaml");
  EXPECT_NE(missing.find((dir / "nope.yaml").string()), std::string::npos) << missing;
  EXPECT_NE(missing.find("not found"), std::string::npos) << missing;

  const std::string base = load_error(write_file(dir / "a.yaml", "run: {seed: 1}\nbase: gone.yaml\n"));
  EXPECT_NE(base.find("gone.yaml"), std::string::npos) << base;
  EXPECT_NE(base.find("a.yaml:2"), std::string::npos) << base;
}

TEST(ConfigErrors, BaseCycleIsAnError) {
  const fs::path dir = test::scratch_dir();
  write_file(dir / "a.yaml", "base: b.yaml\n");
  write_file(dir / "b.yaml", "base: c.yaml\n");
  write_file(dir / "c.yaml", "base: a.yaml\n");
  const std::string msg = load_error(dir / "a.yaml");
  EXPECT_NE(msg.find("cycle"), std::string::npos) << msg;
  EXPECT_NE(msg.find("c.yaml:1"), std::string::npos) << msg;
  const std::string self = load_error(write_file(dir / "self.yaml", "base: self.yaml\n"));
  EXPECT_NE(self.find("cycle"), std::string::npos) << self;
}

TEST(ConfigErrors, BadOverridesNameTheOverrideNotALine) {
  const fs::path file = write_file(test::scratch_dir() / "ok.yaml", "");
  const std::string unknown = load_error(file, {"training.max_stepz=5"});
  EXPECT_NE(unknown.find("override 'training.max_stepz=5'"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("did you mean 'max_steps'?"), std::string::npos) << unknown;
  EXPECT_EQ(unknown.find("ok.yaml"), std::string::npos) << unknown;

  const std::string range = load_error(file, {"training.max_steps=-1"});
  EXPECT_NE(range.find("override 'training.max_steps=-1': training.max_steps: expected a positive integer"),
            std::string::npos) << range;
  EXPECT_NE(load_error(file, {"training.max_steps"}).find("expected SECTION.KEY=VALUE"),
            std::string::npos);
  EXPECT_NE(load_error(file, {"a.b.c=1"}).find("SECTION.KEY"), std::string::npos);
  EXPECT_NE(load_error(file, {"base=x.yaml"}).find("cannot be overridden"), std::string::npos);
  EXPECT_NE(load_error(file, {"run.name=[unclosed"}).find("malformed value"), std::string::npos);
}

TEST(ConfigErrors, ReservedSectionsAndDuplicateKeys) {
  const std::string reserved = error_for_text("finetune:\n  lora_rank: 8\n");
  EXPECT_NE(reserved.find("reserved for a later release"), std::string::npos) << reserved;
  EXPECT_NE(reserved.find("c.yaml:2:"), std::string::npos) << reserved;
  EXPECT_NE(error_for_text("qat: {bits: 4}\n").find("reserved for a later release"), std::string::npos);
  const std::string dup = error_for_text("run:\n  seed: 1\n  seed: 2\n");
  EXPECT_NE(dup.find("c.yaml:3: run.seed: duplicate key"), std::string::npos) << dup;
}

TEST(ConfigErrors, CrossFieldChecksPointAtTheKeyThatWasSet) {
  const std::string batch = error_for_text(
      "data: {seq_len: 64}\ntraining:\n  micro_batch_size: 4\n  global_batch_tokens: 1000\n");
  EXPECT_NE(batch.find("c.yaml:4: training.global_batch_tokens"), std::string::npos) << batch;
  EXPECT_NE(batch.find("multiple of"), std::string::npos) << batch;
  EXPECT_NE(batch.find("256"), std::string::npos) << batch;  // 4 * 64

  const std::string seq = error_for_text("model: {max_seq_len: 64}\ndata:\n  seq_len: 128\n");
  EXPECT_NE(seq.find("c.yaml:3: data.seq_len: expected at most model.max_seq_len (64)"),
            std::string::npos) << seq;
  EXPECT_NE(error_for_text("model: {arch: llama, n_head: 4, n_kv_head: 3}\n").find("divisor of model.n_head"),
            std::string::npos);
  EXPECT_NE(error_for_text("model: {n_head: 3, d_model: 128}\n").find("multiple of model.n_head"),
            std::string::npos);
  EXPECT_NE(error_for_text("model: {arch: gpt2, n_head: 4, n_kv_head: 2}\n").find("full multi-head"),
            std::string::npos);
  EXPECT_NE(error_for_text("kernels: {gemm: cublas}\n").find("needs run.device cuda"), std::string::npos);
  EXPECT_NE(error_for_text("training: {sample_every: 5}\ndata: {tokenizer: ''}\n").find("needs data.tokenizer"),
            std::string::npos);
  // eval_every keeps its default here, so the error points at the line that emptied data.val.
  const std::string val = error_for_text("run: {seed: 3}\ndata: {val: ''}\n");
  EXPECT_NE(val.find("c.yaml:2: training.eval_every"), std::string::npos) << val;

  // The same checks without a file, for callers that edit a Config.
  Config c = default_config();
  EXPECT_NO_THROW(validate_config(c));
  c.data.seq_len = c.model.max_seq_len + 1;
  EXPECT_THROW(validate_config(c), ConfigError);
}

void expect_round_trip(const Config& c) {
  const fs::path file = write_file(test::scratch_dir() / "resolved.yaml", config_to_yaml(c));
  Config again = load_config(file);
  again.source_path = c.source_path;
  EXPECT_EQ(again, c) << config_to_yaml(c) << "\n---\n" << config_to_yaml(again);
  EXPECT_EQ(config_hash(again), config_hash(c));
}

TEST(ConfigYaml, RoundTripsExamplesAndUnusualValues) {
  for (const char* name : {"tiny.yaml", "llama-tiny.yaml", "gpt2-124m.yaml"}) {
    expect_round_trip(load_config(example(name)));
  }
  const fs::path file = write_file(test::scratch_dir() / "odd.yaml", "model: {}\ndata: {}\n");
  const Config odd = load_config(
      file, {"run.name=\"no\"", "run.output_dir='dir with \"quotes\" and \\'", "run.seed=18446744073709551615",
             "run.device=cuda:1", "model.arch=llama", "model.n_kv_head=2", "model.dropout=0.1",
             "model.norm_eps=1e-6", "model.rope_theta=500000", "model.init_std=0.0123456789012345",
             "data.val=\"\"", "training.eval_every=0", "training.precision=fp16",
             "optimizer.name=sgd", "optimizer.lr=3e-4", "optimizer.betas=[0.1, 0.2]",
             "scheduler.name=wsd", "scheduler.decay_ratio=0.35", "logging={jsonl: false, progress: never}",
             "kernels={gemm: cublas, attention: cudnn, tf32: true}", "distributed={backend: nccl, zero_stage: 1}"});
  EXPECT_EQ(odd.run.name, "no");  // a quoted YAML boolean stays a string
  EXPECT_TRUE(odd.kernels.tf32);
  EXPECT_EQ(odd.run.seed, 18446744073709551615ull);
  EXPECT_EQ(odd.data.val, "");
  expect_round_trip(odd);
}

TEST(ConfigYaml, HashIsStableAndSensitive) {
  Config a = load_config(example("tiny.yaml"));
  Config b = a;
  b.source_path = "elsewhere.yaml";
  EXPECT_EQ(config_hash(a), config_hash(b));  // where it came from does not matter
  b.optimizer.lr *= 1.0000001;
  EXPECT_NE(config_hash(a), config_hash(b));
  b = a;
  b.run.seed += 1;
  EXPECT_NE(config_hash(a), config_hash(b));
}

}  // namespace
}  // namespace anvil::train
