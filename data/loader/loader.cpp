// Token loader: windows over memory-mapped shards, a per-epoch permutation, batches as a pure
// function of the batch index, and a one-batch-ahead prefetch thread (see loader.h).
//
// Tricks: because batch g depends only on g, prefetching can never change results and the
// checkpoint state is a single integer. An epoch's permutation is a Fisher-Yates shuffle driven by
// Philox words keyed by (seed, epoch), so it is the same on every machine and every rank; the two
// most recently used epochs are cached (a batch can straddle an epoch boundary).
#include "data/loader/loader.h"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <limits>
#include <mutex>
#include <thread>

#include "core/base/error.h"
#include "core/base/rng.h"
#include "data/shards/shard.h"

namespace anvil::data {

namespace {

constexpr int kStateVersion = 1;
constexpr size_t kCachedEpochs = 2;

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// The order of windows 0..count-1 for one epoch.
std::vector<uint32_t> epoch_permutation(uint64_t seed, int64_t epoch, int64_t count) {
  std::vector<uint32_t> order(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) order[i] = uint32_t(i);
  const uint64_t key = splitmix64(seed ^ splitmix64(uint64_t(epoch)));
  for (int64_t i = count - 1; i > 0; --i) {
    const uint64_t r = (uint64_t(Philox4x32::word(key, 2 * uint64_t(i))) << 32) |
                       Philox4x32::word(key, 2 * uint64_t(i) + 1);
    // Multiply-shift maps r to [0, i]; the bias is below 2^-32 for any realistic count.
    const int64_t j = int64_t((static_cast<unsigned __int128>(r) * uint64_t(i + 1)) >> 64);
    std::swap(order[i], order[j]);
  }
  return order;
}

template <typename T>
T state_field(const nlohmann::json& state, const char* key) {
  ANVIL_CHECK_AS(CheckpointError, state.is_object() && state.contains(key),
                 "loader state: missing key '", key, "'");
  try {
    return state.at(key).get<T>();
  } catch (const nlohmann::json::exception&) {
    throw CheckpointError(detail::concat("loader state: key '", key, "' has the wrong type: ",
                                         state.at(key).dump()));
  }
}

}  // namespace

struct TokenLoader::Impl {
  LoaderOptions options;
  std::vector<TokenShard> shards;       // only those holding at least one window
  std::vector<int64_t> window_offsets;  // first window id of each shard, then W
  int64_t total_windows = 0;

  std::mutex permutation_mutex;
  std::vector<std::pair<int64_t, std::shared_ptr<const std::vector<uint32_t>>>> permutations;

  // Position and prefetch slot, guarded by mutex.
  mutable std::mutex mutex;
  std::condition_variable changed;
  int64_t next_batch = 0;
  int64_t requested = -1;    // batch the worker should build, -1 = none
  int64_t ready_index = -1;  // batch held in slot, -1 = none
  TokenBatch slot;
  std::exception_ptr slot_error;
  bool stop = false;
  std::thread worker;

  std::shared_ptr<const std::vector<uint32_t>> permutation(int64_t epoch) {
    std::lock_guard<std::mutex> lock(permutation_mutex);
    for (auto& [e, order] : permutations)
      if (e == epoch) return order;
    auto order = std::make_shared<const std::vector<uint32_t>>(
        epoch_permutation(options.seed, epoch, total_windows));
    if (permutations.size() == kCachedEpochs) permutations.erase(permutations.begin());
    permutations.emplace_back(epoch, order);
    return order;
  }

  TokenBatch build(int64_t batch_index) {
    const int64_t B = options.batch_size, T = options.seq_len;
    TokenBatch batch;
    batch.batch_size = B;
    batch.seq_len = T;
    batch.tokens.resize(size_t(B * (T + 1)));
    std::vector<uint32_t> window(size_t(T + 1));
    const int64_t first = batch_index * B * options.world_size + int64_t(options.rank) * B;
    const int64_t limit = options.vocab_size > 0 ? options.vocab_size
                                                 : int64_t(std::numeric_limits<int32_t>::max()) + 1;
    std::shared_ptr<const std::vector<uint32_t>> order;
    int64_t order_epoch = -1;
    for (int64_t b = 0; b < B; ++b) {
      const int64_t position = first + b;
      const int64_t epoch = position / total_windows;
      int64_t id = position % total_windows;
      if (options.shuffle) {
        if (epoch != order_epoch) {
          order = permutation(epoch);
          order_epoch = epoch;
        }
        id = (*order)[size_t(id)];
      }
      const size_t s = size_t(std::upper_bound(window_offsets.begin(), window_offsets.end(), id) -
                              window_offsets.begin() - 1);
      const int64_t start = (id - window_offsets[s]) * T;
      const TokenShard& shard = shards[s];
      shard.read(start, T + 1, window.data());
      int32_t* row = batch.tokens.data() + b * (T + 1);
      for (int64_t t = 0; t <= T; ++t) {
        if (int64_t(window[t]) >= limit)
          throw DataError(detail::concat("shard ", shard.path().string(), ": token id ", window[t],
                                         " at position ", start + t,
                                         options.vocab_size > 0 ? " is >= the vocabulary size "
                                                                : " does not fit in int32, limit ",
                                         limit));
        row[t] = int32_t(window[t]);
      }
    }
    return batch;
  }

  void worker_loop() {
    std::unique_lock<std::mutex> lock(mutex);
    while (true) {
      changed.wait(lock, [&] { return stop || (requested >= 0 && ready_index != requested); });
      if (stop) return;
      const int64_t index = requested;
      lock.unlock();
      TokenBatch batch;
      std::exception_ptr error;
      try {
        batch = build(index);
      } catch (...) {
        error = std::current_exception();
      }
      lock.lock();
      if (requested == index) {  // else the caller moved (reset/restore): discard
        slot = std::move(batch);
        slot_error = error;
        ready_index = index;
        changed.notify_all();
      }
    }
  }

  // Moves the position to batch g and lets the worker start on it.
  void seek(int64_t g) {
    std::lock_guard<std::mutex> lock(mutex);
    next_batch = g;
    if (!options.prefetch) return;
    if (ready_index != g) {
      ready_index = -1;
      slot = TokenBatch{};
      slot_error = nullptr;
    }
    requested = g;
    changed.notify_all();
  }
};

TokenLoader::TokenLoader(LoaderOptions options) : impl_(std::make_unique<Impl>()) {
  Impl& impl = *impl_;
  ANVIL_CHECK_AS(ConfigError, options.batch_size >= 1, "loader: batch_size must be >= 1, got ",
                 options.batch_size);
  ANVIL_CHECK_AS(ConfigError, options.seq_len >= 1, "loader: seq_len must be >= 1, got ",
                 options.seq_len);
  ANVIL_CHECK_AS(ConfigError, options.world_size >= 1 && options.rank >= 0 &&
                                  options.rank < options.world_size,
                 "loader: rank ", options.rank, " is outside world_size ", options.world_size);
  ANVIL_CHECK_AS(ConfigError, options.vocab_size >= 0, "loader: vocab_size must be >= 0, got ",
                 options.vocab_size);
  impl.options = std::move(options);
  const LoaderOptions& o = impl.options;

  int64_t longest = 0;
  std::vector<std::filesystem::path> paths = expand_glob(o.pattern);
  for (const auto& path : paths) {
    TokenShard shard = TokenShard::open(path, o.verify_checksums);
    longest = std::max(longest, shard.size());
    if (shard.size() < o.seq_len + 1) continue;  // too short for one window
    impl.window_offsets.push_back(impl.total_windows);
    impl.total_windows += (shard.size() - 1) / o.seq_len;
    impl.shards.push_back(std::move(shard));
  }
  impl.window_offsets.push_back(impl.total_windows);
  ANVIL_CHECK_AS(DataError, impl.total_windows > 0, "pattern '", o.pattern, "': none of its ",
                 paths.size(), " shards holds a window of seq_len + 1 = ", o.seq_len + 1,
                 " tokens (the longest has ", longest, ")");
  ANVIL_CHECK_AS(DataError,
                 !o.shuffle || impl.total_windows <= int64_t(std::numeric_limits<uint32_t>::max()),
                 "pattern '", o.pattern, "': ", impl.total_windows,
                 " windows are more than a shuffled loader can index (2^32 - 1)");
  if (o.prefetch) {
    impl.requested = 0;
    impl.worker = std::thread([&impl] { impl.worker_loop(); });
  }
}

TokenLoader::~TokenLoader() {
  if (!impl_) return;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->stop = true;
  }
  impl_->changed.notify_all();
  if (impl_->worker.joinable()) impl_->worker.join();
}

TokenLoader::TokenLoader(TokenLoader&&) noexcept = default;

TokenLoader& TokenLoader::operator=(TokenLoader&& other) noexcept {
  if (this != &other) {
    TokenLoader discarded(std::move(*this));  // stops our worker, if any
    impl_ = std::move(other.impl_);
  }
  return *this;
}

TokenBatch TokenLoader::next_windows() {
  Impl& impl = *impl_;
  if (!impl.options.prefetch) {
    int64_t index;
    {
      std::lock_guard<std::mutex> lock(impl.mutex);
      index = impl.next_batch;
    }
    TokenBatch batch = impl.build(index);  // throws before advancing
    std::lock_guard<std::mutex> lock(impl.mutex);
    impl.next_batch = index + 1;
    return batch;
  }
  std::unique_lock<std::mutex> lock(impl.mutex);
  const int64_t index = impl.next_batch;
  if (impl.requested != index) {
    impl.requested = index;
    impl.changed.notify_all();
  }
  impl.changed.wait(lock, [&] { return impl.ready_index == index; });
  if (impl.slot_error) {
    // Stay on this batch; asking again rebuilds it (and fails again).
    std::exception_ptr error = std::exchange(impl.slot_error, nullptr);
    impl.ready_index = -1;
    impl.requested = -1;
    std::rethrow_exception(error);
  }
  TokenBatch batch = std::move(impl.slot);
  impl.slot = TokenBatch{};
  impl.ready_index = -1;
  impl.next_batch = index + 1;
  impl.requested = index + 1;
  impl.changed.notify_all();
  return batch;
}

nlohmann::json TokenLoader::state() const {
  const Impl& impl = *impl_;
  int64_t g;
  {
    std::lock_guard<std::mutex> lock(impl.mutex);
    g = impl.next_batch;
  }
  const int64_t consumed = g * impl.options.batch_size * impl.options.world_size;
  return nlohmann::json{{"version", kStateVersion},
                        {"next_batch", g},
                        {"windows_consumed", consumed},
                        {"epoch", consumed / impl.total_windows},
                        {"seed", impl.options.seed},
                        {"shuffle", impl.options.shuffle},
                        {"seq_len", impl.options.seq_len},
                        {"windows_per_epoch", impl.total_windows}};
}

void TokenLoader::restore(const nlohmann::json& state) {
  Impl& impl = *impl_;
  const LoaderOptions& o = impl.options;
  const int version = state_field<int>(state, "version");
  ANVIL_CHECK_AS(CheckpointError, version == kStateVersion, "loader state: version ", version,
                 ", expected ", kStateVersion);
  auto expect_same = [](const char* key, auto stored, auto current) {
    ANVIL_CHECK_AS(CheckpointError, stored == current, "loader state: ", key, " is ", stored,
                   " in the checkpoint but ", current,
                   " now; resuming would not continue the same data order");
  };
  expect_same("seed", state_field<uint64_t>(state, "seed"), o.seed);
  expect_same("shuffle", state_field<bool>(state, "shuffle"), o.shuffle);
  expect_same("seq_len", state_field<int64_t>(state, "seq_len"), o.seq_len);
  expect_same("windows_per_epoch", state_field<int64_t>(state, "windows_per_epoch"),
              impl.total_windows);
  const int64_t consumed = state_field<int64_t>(state, "windows_consumed");
  const int64_t global_batch = o.batch_size * o.world_size;
  ANVIL_CHECK_AS(CheckpointError, consumed >= 0 && consumed % global_batch == 0,
                 "loader state: ", consumed,
                 " windows consumed is not a whole number of global batches of ", global_batch,
                 " (batch_size ", o.batch_size, " x world_size ", o.world_size, ")");
  impl.seek(consumed / global_batch);
}

void TokenLoader::reset() { impl_->seek(0); }

Batch TokenLoader::next() {
  TokenBatch w = next_windows();
  return batch_from_windows(w.tokens.data(), w.batch_size, w.seq_len);
}

int64_t TokenLoader::windows_per_epoch() const { return impl_->total_windows; }

int64_t TokenLoader::batches_per_epoch() const {
  const int64_t global_batch = impl_->options.batch_size * impl_->options.world_size;
  return (impl_->total_windows + global_batch - 1) / global_batch;
}

int64_t TokenLoader::epoch() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->next_batch * impl_->options.batch_size * impl_->options.world_size /
         impl_->total_windows;
}

int64_t TokenLoader::shard_count() const { return int64_t(impl_->shards.size()); }

}  // namespace anvil::data
