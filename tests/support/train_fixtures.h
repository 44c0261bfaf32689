// Small training fixtures shared by the trainer tests (single process, MPI, CLI): a learnable
// synthetic token corpus and the tiny model config that trains on it in well under a second.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "train/config/config.h"

namespace anvil::test {

// Writes train_000000.bin and val_000000.bin (n_tokens each, u16 ids) under dir: token t+1 follows
// t (mod vocab) seven times in eight, else a random token, so a model can learn it quickly.
void write_synthetic_corpus(const std::filesystem::path& dir, int64_t vocab, int64_t n_tokens, uint64_t seed);

// A 2-layer, d=16, 2-head model (Llama: 1 key/value head, untied) over a 64-token vocabulary with
// T=16, micro-batches of 4, reading the corpus under data_dir and writing to out_dir, progress off.
// The caller sets the schedule (global batch, steps, eval, checkpoints) and validates.
train::Config small_train_config(const std::filesystem::path& data_dir, const std::filesystem::path& out_dir,
                                 const std::string& arch = "gpt2");

}  // namespace anvil::test
