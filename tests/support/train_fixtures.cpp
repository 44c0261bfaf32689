#include "tests/support/train_fixtures.h"

#include <vector>

#include "core/base/rng.h"
#include "data/shards/shard.h"

namespace anvil::test {

void write_synthetic_corpus(const std::filesystem::path& dir, int64_t vocab, int64_t n_tokens, uint64_t seed) {
  std::filesystem::create_directories(dir);
  for (const char* split : {"train", "val"}) {
    std::vector<uint32_t> toks(static_cast<size_t>(n_tokens));
    uint32_t t = 0;
    for (int64_t i = 0; i < n_tokens; ++i) {
      uint32_t r = Philox4x32::word(seed + (split[0] == 'v'), uint64_t(i));
      t = (r % 8 == 0) ? r % uint32_t(vocab) : (t + 1) % uint32_t(vocab);
      toks[size_t(i)] = t;
    }
    data::write_shard(dir / (std::string(split) + "_000000.bin"), toks, 2);
  }
}

train::Config small_train_config(const std::filesystem::path& data_dir, const std::filesystem::path& out_dir,
                                 const std::string& arch) {
  train::Config c = train::default_config();
  c.run.output_dir = out_dir.string();
  c.model.arch = arch;
  c.model.n_layer = 2;
  c.model.n_head = 2;
  c.model.n_kv_head = arch == "llama" ? 1 : 2;
  c.model.d_model = 16;
  c.model.d_ff = 32;
  c.model.vocab_size = 64;
  c.model.max_seq_len = 16;
  c.model.tie_embeddings = arch == "gpt2";
  c.data.train = (data_dir / "train_*.bin").string();
  c.data.val = (data_dir / "val_*.bin").string();
  c.data.tokenizer = "";
  c.data.seq_len = 16;
  c.training.micro_batch_size = 4;
  c.logging.progress = "never";
  return c;
}

}  // namespace anvil::test
