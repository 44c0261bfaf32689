// The token loader: window layout, determinism, epoch coverage and wrap, rank split, state/restore
// under prefetch, vocabulary check and the errors for unusable shards; the Batch every BatchSource
// hands out (the loader's and the synthetic tokens of `anvil bench`).
//
// Shards hold token value = 1000 * shard + position, so every window says where it came from.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "core/base/error.h"
#include "core/ops/ops.h"
#include "data/loader/loader.h"
#include "data/loader/synthetic.h"
#include "data/shards/shard.h"
#include "tests/support/test_paths.h"

namespace anvil::data {
namespace {

namespace fs = std::filesystem;

// Writes shards of the given lengths as data_000.bin, data_001.bin, ...; returns the glob.
std::string make_shards(const fs::path& dir, const std::vector<int64_t>& lengths) {
  for (size_t s = 0; s < lengths.size(); ++s) {
    std::vector<uint32_t> tokens(static_cast<size_t>(lengths[s]));
    for (int64_t i = 0; i < lengths[s]; ++i) tokens[i] = uint32_t(1000 * s + i);
    char name[32];
    std::snprintf(name, sizeof(name), "data_%03zu.bin", s);
    write_shard(dir / name, tokens, 2);
  }
  return (dir / "data_*.bin").string();
}

LoaderOptions options(const std::string& pattern, int64_t B, int64_t T, uint64_t seed = 7) {
  LoaderOptions o;
  o.pattern = pattern;
  o.batch_size = B;
  o.seq_len = T;
  o.seed = seed;
  return o;
}

// Row b of a batch.
std::vector<int32_t> row(const TokenBatch& batch, int64_t b) {
  const int64_t W = batch.seq_len + 1;
  return std::vector<int32_t>(batch.tokens.begin() + b * W, batch.tokens.begin() + (b + 1) * W);
}

std::vector<std::vector<int32_t>> take_rows(TokenLoader& loader, int64_t batches) {
  std::vector<std::vector<int32_t>> rows;
  for (int64_t i = 0; i < batches; ++i) {
    TokenBatch batch = loader.next_windows();
    for (int64_t b = 0; b < batch.batch_size; ++b) rows.push_back(row(batch, b));
  }
  return rows;
}

TEST(Loader, WindowsAreStrideTSlicesOfOneShard) {
  fs::path dir = test::scratch_dir();
  // T = 4: windows of 5 tokens at 0, 4, 8, ...; shard lengths 21 -> 5 windows, 9 -> 2, 4 -> none.
  std::string pattern = make_shards(dir, {21, 9, 4});
  LoaderOptions o = options(pattern, 7, 4);
  o.shuffle = false;
  o.prefetch = false;
  TokenLoader loader(o);
  EXPECT_EQ(loader.windows_per_epoch(), 7);
  EXPECT_EQ(loader.shard_count(), 2);
  TokenBatch batch = loader.next_windows();
  ASSERT_EQ(batch.batch_size, 7);
  ASSERT_EQ(batch.seq_len, 4);
  ASSERT_EQ(batch.tokens.size(), 35u);
  const std::vector<int32_t> starts = {0, 4, 8, 12, 16, 1000, 1004};
  for (int64_t b = 0; b < 7; ++b)
    for (int64_t t = 0; t <= 4; ++t) EXPECT_EQ(row(batch, b)[t], starts[b] + t) << b << "," << t;
}

TEST(Loader, DeterministicForASeedAndEachEpochCoversAllWindows) {
  fs::path dir = test::scratch_dir();
  std::string pattern = make_shards(dir, {101, 57, 230});  // T = 8: 12 + 7 + 28 = 47 windows
  TokenLoader a(options(pattern, 5, 8, 11));
  TokenLoader b(options(pattern, 5, 8, 11));
  TokenLoader other(options(pattern, 5, 8, 12));
  ASSERT_EQ(a.windows_per_epoch(), 47);
  auto rows_a = take_rows(a, 20);  // 100 windows: two full epochs and a bit
  EXPECT_EQ(rows_a, take_rows(b, 20));
  EXPECT_NE(rows_a, take_rows(other, 20));

  for (int epoch = 0; epoch < 2; ++epoch) {
    std::set<int32_t> starts;
    for (int64_t i = 0; i < 47; ++i) starts.insert(rows_a[epoch * 47 + i][0]);
    EXPECT_EQ(starts.size(), 47u) << "epoch " << epoch << " repeats a window";
  }
  // The second epoch uses a new order, and the order is not the file order.
  std::vector<int32_t> first, second, sorted;
  for (int64_t i = 0; i < 47; ++i) {
    first.push_back(rows_a[i][0]);
    second.push_back(rows_a[47 + i][0]);
  }
  EXPECT_NE(first, second);
  sorted = first;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_NE(first, sorted);
  EXPECT_EQ(a.epoch(), 2);  // 100 windows consumed of 47 per epoch
}

TEST(Loader, EpochWrapWithoutShuffleRepeatsTheSequence) {
  fs::path dir = test::scratch_dir();
  std::string pattern = make_shards(dir, {13});  // T = 4: 3 windows at 0, 4, 8
  LoaderOptions o = options(pattern, 2, 4);
  o.shuffle = false;
  TokenLoader loader(o);
  auto rows = take_rows(loader, 3);  // 6 windows = 2 epochs, batches straddle the boundary
  std::vector<int32_t> starts;
  for (auto& r : rows) starts.push_back(r[0]);
  EXPECT_EQ(starts, (std::vector<int32_t>{0, 4, 8, 0, 4, 8}));
  EXPECT_EQ(loader.batches_per_epoch(), 2);
}

TEST(Loader, RanksAreDisjointAndTheirUnionIsTheWorldOneBatch) {
  fs::path dir = test::scratch_dir();
  std::string pattern = make_shards(dir, {300, 200, 150});
  const int world = 3;
  const int64_t B = 2, T = 6;
  LoaderOptions single = options(pattern, B * world, T, 5);
  TokenLoader whole(single);
  std::vector<TokenLoader> ranks;
  for (int r = 0; r < world; ++r) {
    LoaderOptions o = options(pattern, B, T, 5);
    o.rank = r;
    o.world_size = world;
    ranks.emplace_back(o);
  }
  for (int step = 0; step < 25; ++step) {  // 150 windows: past the 106-window epoch
    TokenBatch expected = whole.next_windows();
    std::vector<int32_t> joined;
    std::set<int32_t> starts;
    for (auto& loader : ranks) {
      TokenBatch part = loader.next_windows();
      ASSERT_EQ(part.batch_size, B);
      joined.insert(joined.end(), part.tokens.begin(), part.tokens.end());
      for (int64_t b = 0; b < B; ++b) starts.insert(row(part, b)[0]);
    }
    EXPECT_EQ(joined, expected.tokens) << "step " << step;
    EXPECT_EQ(starts.size(), size_t(B * world)) << "ranks overlap at step " << step;
  }
}

TEST(Loader, StateRestoreIsExactWithPrefetch) {
  fs::path dir = test::scratch_dir();
  std::string pattern = make_shards(dir, {500, 333});
  LoaderOptions o = options(pattern, 4, 16, 3);
  o.prefetch = true;
  TokenLoader first(o);
  take_rows(first, 9);
  // Round-trip through text, as a checkpoint would.
  nlohmann::json saved = nlohmann::json::parse(first.state().dump());
  EXPECT_EQ(saved["next_batch"], 9);
  auto continuation = take_rows(first, 12);

  TokenLoader resumed(o);
  take_rows(resumed, 2);  // its prefetch thread is already ahead on batch 2
  resumed.restore(saved);
  EXPECT_EQ(take_rows(resumed, 12), continuation);

  // Restoring backwards on the same loader, and without prefetch, gives the same batches too.
  first.restore(saved);
  EXPECT_EQ(take_rows(first, 12), continuation);
  o.prefetch = false;
  TokenLoader plain(o);
  plain.restore(saved);
  EXPECT_EQ(take_rows(plain, 12), continuation);

  // reset() goes back to batch 0.
  TokenLoader fresh(o);
  auto start = take_rows(fresh, 3);
  resumed.reset();
  EXPECT_EQ(take_rows(resumed, 3), start);
}

TEST(Loader, RestoreAcrossWorldSizesAndMismatches) {
  fs::path dir = test::scratch_dir();
  std::string pattern = make_shards(dir, {900});
  // World 1 with B = 4 for 3 batches == 12 windows == world 2 with B = 2 for 3 batches.
  TokenLoader one(options(pattern, 4, 8));
  take_rows(one, 3);
  nlohmann::json saved = one.state();
  auto expected = take_rows(one, 1);

  LoaderOptions o = options(pattern, 2, 8);
  o.world_size = 2;
  std::vector<std::vector<int32_t>> joined;
  for (int r = 0; r < 2; ++r) {
    o.rank = r;
    TokenLoader part(o);
    part.restore(saved);
    for (auto& rw : take_rows(part, 1)) joined.push_back(rw);
  }
  EXPECT_EQ(joined, expected);

  TokenLoader other_seed(options(pattern, 4, 8, 99));
  EXPECT_THROW(other_seed.restore(saved), CheckpointError);
  TokenLoader odd_batch(options(pattern, 5, 8));
  EXPECT_THROW(odd_batch.restore(saved), CheckpointError);  // 12 windows is not k * 5
  nlohmann::json broken = saved;
  broken.erase("windows_consumed");
  EXPECT_THROW(one.restore(broken), CheckpointError);
}

TEST(Loader, VocabularyCheckNamesShardAndPosition) {
  fs::path dir = test::scratch_dir();
  std::string pattern = make_shards(dir, {40, 40});  // shard 1 holds ids 1000..1039
  for (bool prefetch : {false, true}) {
    LoaderOptions o = options(pattern, 8, 4);
    o.shuffle = false;
    o.prefetch = prefetch;
    o.vocab_size = 1000;
    TokenLoader loader(o);
    EXPECT_NO_THROW(loader.next_windows());  // windows 0..7 lie in shard 0
    try {
      loader.next_windows();
      FAIL() << "expected DataError";
    } catch (const DataError& e) {
      std::string message = e.what();
      EXPECT_NE(message.find("data_001.bin"), std::string::npos) << message;
      EXPECT_NE(message.find("position 0"), std::string::npos) << message;
      EXPECT_NE(message.find("1000"), std::string::npos) << message;
    }
    // The failed batch is not skipped: asking again fails again.
    EXPECT_THROW(loader.next_windows(), DataError);
    o.vocab_size = 1040;
    TokenLoader wide(o);
    take_rows(wide, 4);
  }
}

TEST(Loader, UnusableInputsAreErrors) {
  fs::path dir = test::scratch_dir();
  const std::string none = (dir / "absent_*.bin").string();
  try {
    TokenLoader loader(options(none, 2, 4));
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find(none), std::string::npos) << e.what();
  }
  std::string pattern = make_shards(dir, {5, 3});  // T = 8 needs 9 tokens
  try {
    TokenLoader loader(options(pattern, 2, 8));
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find(pattern), std::string::npos) << e.what();
  }
  EXPECT_THROW(TokenLoader{options(pattern, 0, 2)}, ConfigError);
  LoaderOptions bad_rank = options(pattern, 1, 2);
  bad_rank.rank = 2;
  bad_rank.world_size = 2;
  EXPECT_THROW(TokenLoader{bad_rank}, ConfigError);
}

std::vector<int32_t> values(const Tensor& t) {
  return std::vector<int32_t>(t.data<int32_t>(), t.data<int32_t>() + t.numel());
}

TEST(Batch, LoaderBatchesAreShiftedWindowsWithPositionsAndOneDocumentPerRow) {
  const std::string glob = make_shards(test::scratch_dir(), {200});
  TokenLoader windows(options(glob, 3, 8)), batches(options(glob, 3, 8));
  const TokenBatch w = windows.next_windows();
  BatchSource& source = batches;  // the trainer, bench and eval see only the interface
  const Batch b = source.next();
  ASSERT_EQ(b.ids.shape(), (std::vector<int64_t>{3, 8}));
  for (const Tensor* t : {&b.ids, &b.targets, &b.position_ids, &b.document_ids}) {
    EXPECT_EQ(t->dtype(), DType::I32);
    EXPECT_EQ(t->shape(), b.ids.shape());
  }
  const auto ids = values(b.ids), targets = values(b.targets), pos = values(b.position_ids),
             docs = values(b.document_ids);
  for (int64_t r = 0; r < 3; ++r) {
    const std::vector<int32_t> window = row(w, r);
    for (int64_t t = 0; t < 8; ++t) {
      EXPECT_EQ(ids[r * 8 + t], window[t]);
      EXPECT_EQ(targets[r * 8 + t], window[t + 1]);
      EXPECT_EQ(pos[r * 8 + t], t);
      EXPECT_EQ(docs[r * 8 + t], 0);
    }
  }
  EXPECT_EQ(b.target_count(), 24);
  // The four are views of one (4, B, T) block, which Batch::to moves with a single copy.
  ASSERT_TRUE(b.block.defined());
  EXPECT_EQ(b.block.shape(), (std::vector<int64_t>{4, 3, 8}));
  const int32_t* base = b.block.data<int32_t>();
  EXPECT_EQ(b.ids.data<int32_t>(), base);
  EXPECT_EQ(b.targets.data<int32_t>(), base + 24);
  EXPECT_EQ(b.position_ids.data<int32_t>(), base + 48);
  EXPECT_EQ(b.document_ids.data<int32_t>(), base + 72);
}

TEST(Batch, IgnoredRowsTakeNoLoss) {
  const std::string glob = make_shards(test::scratch_dir(), {200});
  TokenLoader loader(options(glob, 4, 5));
  Batch b = loader.next();
  const auto ids_before = values(b.ids);
  b.ignore_rows_from(1);
  EXPECT_EQ(b.target_count(), 5);
  const auto targets = values(b.targets);
  for (size_t i = 5; i < targets.size(); ++i) EXPECT_EQ(targets[i], kIgnoreIndex);
  EXPECT_NE(targets[0], kIgnoreIndex);
  EXPECT_EQ(values(b.ids), ids_before);  // inputs stay; only the loss ignores the rows
  // The loss agrees: cross-entropy over ignored targets is the mean over the kept row alone.
  Generator gen(5);
  const Tensor logits = Tensor::randn({4 * 5, 2000}, gen);
  const Tensor kept = Tensor::from_ints(std::vector<int64_t>(targets.begin(), targets.begin() + 5), {5}, DType::I32);
  const float all = ops::cross_entropy(logits, b.targets.reshape({20})).item();
  const float first = ops::cross_entropy(logits.slice(0, 0, 5), kept).item();
  EXPECT_NEAR(all, first, 1e-5f);
}

TEST(SyntheticTokens, DeterministicInRangeAndRestorable) {
  SyntheticTokens a(9, 2, 16, 50), b(9, 2, 16, 50), other_seed(10, 2, 16, 50);
  const Batch first = a.next();
  EXPECT_EQ(values(first.ids), values(b.next().ids));
  EXPECT_NE(values(first.ids), values(other_seed.next().ids));
  for (int32_t id : values(first.ids)) {
    EXPECT_GE(id, 0);
    EXPECT_LT(id, 50);
  }
  EXPECT_EQ(first.target_count(), 32);
  const nlohmann::json at_one = a.state();
  const Batch second = a.next();
  EXPECT_NE(values(second.ids), values(first.ids));
  SyntheticTokens c(9, 2, 16, 50);
  c.restore(at_one);
  EXPECT_EQ(values(c.next().targets), values(second.targets));
  a.reset();
  EXPECT_EQ(values(a.next().ids), values(first.ids));
  SyntheticTokens wrong(9, 4, 16, 50);
  EXPECT_THROW(wrong.restore(at_one), CheckpointError);
}

}  // namespace
}  // namespace anvil::data
