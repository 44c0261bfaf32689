// Metric sinks: one JSON object per line (metrics.jsonl) and TensorBoard event files
// (events.out.tfevents.*), written by rank 0. Both append and flush every record, so a killed run
// keeps what it logged.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>

namespace anvil::train {

class JsonlWriter {
 public:
  explicit JsonlWriter(const std::filesystem::path& path);
  // {"step": step, "<key>": value, ...} plus any string fields.
  void write(int64_t step, const std::map<std::string, double>& scalars, const std::map<std::string, std::string>& text = {});

 private:
  std::ofstream out_;
};

// Writes TensorBoard's record format: [u64 len][u32 masked crc32c(len)][Event proto][u32 masked crc32c(data)],
// each Event a scalar summary (tag, simple_value) at a step. The protobuf is encoded by hand.
class TensorBoardWriter {
 public:
  explicit TensorBoardWriter(const std::filesystem::path& dir);
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
