// Metric sinks: one JSON object per line (metrics.jsonl) and TensorBoard event files
// (events.out.tfevents.*), written by rank 0. Both append and flush every record, so a killed run
// keeps what it logged.
//
// Resume: a run that continues from a checkpoint at step S passes resumed_step = S, so that the
// steps after S logged by the interrupted run (which are trained again) do not show twice: the
// JSONL writer drops the existing rows with step > S (rewriting the file atomically before the
// first append), and the TensorBoard writer starts its new event file with a SessionLog START
// event at step S + 1, which makes TensorBoard purge the older events of steps >= S + 1 (as
// tensorboardX's purge_step does).
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace anvil::train {

class JsonlWriter {
 public:
  // Appends to path (created with its folder if missing). With resumed_step, rows of the existing
  // file whose "step" is > *resumed_step are dropped first, as are lines that are not a JSON object
  // with a step (a line cut off when the run was killed).
  explicit JsonlWriter(const std::filesystem::path& path, std::optional<int64_t> resumed_step = std::nullopt);
  // {"step": step, "<key>": value, ...} plus any string fields.
  void write(int64_t step, const std::map<std::string, double>& scalars, const std::map<std::string, std::string>& text = {});

 private:
  std::ofstream out_;
};

// Writes TensorBoard's record format: [u64 len][u32 masked crc32c(len)][Event proto][u32 masked crc32c(data)],
// each Event a scalar summary (tag, simple_value) at a step. The protobuf is encoded by hand.
class TensorBoardWriter {
 public:
  // A new event file under dir. With resumed_step, its second record is
  // Event { step = *resumed_step + 1; session_log { status = START } }.
  explicit TensorBoardWriter(const std::filesystem::path& dir, std::optional<int64_t> resumed_step = std::nullopt);
  void add_scalar(const std::string& tag, double value, int64_t step);
  void flush();
  const std::filesystem::path& path() const { return path_; }

 private:
  void write_record(const std::string& data);
  std::filesystem::path path_;
  std::ofstream out_;
};

uint32_t crc32c(const void* data, size_t n);
uint32_t masked_crc32c(const void* data, size_t n);

}  // namespace anvil::train
