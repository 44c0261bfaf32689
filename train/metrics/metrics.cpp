#include "train/metrics/metrics.h"

#include <unistd.h>

#include <array>
#include <chrono>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/base/error.h"
#include "core/base/fs.h"

namespace anvil::train {

namespace {

// The rows of a metrics.jsonl that a run resumed at `resumed_step` keeps: JSON objects whose
// integer "step" is <= resumed_step, in order.
std::string rows_up_to(const std::string& text, int64_t resumed_step) {
  std::string kept;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json row = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!row.is_object() || !row.contains("step") || !row["step"].is_number_integer()) continue;
    if (row["step"].get<int64_t>() > resumed_step) continue;
    kept += line;
    kept += '\n';
  }
  return kept;
}

}  // namespace

JsonlWriter::JsonlWriter(const std::filesystem::path& path, std::optional<int64_t> resumed_step) {
  std::filesystem::create_directories(path.parent_path());
  std::error_code ec;
  if (resumed_step && std::filesystem::exists(path, ec)) {
    const std::string old = read_file(path);
    const std::string kept = rows_up_to(old, *resumed_step);
    if (kept != old) write_file_atomic(path, kept);  // temp file + rename: never half a file
  }
  out_.open(path, std::ios::app);
  if (!out_) throw RuntimeFailure("cannot open " + path.string() + " for writing");
}

void JsonlWriter::write(int64_t step, const std::map<std::string, double>& scalars,
                        const std::map<std::string, std::string>& text) {
  nlohmann::json j;
  j["step"] = step;
  for (auto& [k, v] : scalars) j[k] = v;
  for (auto& [k, v] : text) j[k] = v;
  // Text (samples from a barely trained model) may cut a UTF-8 sequence: written with U+FFFD in its
  // place rather than failing the run at its end.
  out_ << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  out_.flush();
}

// ---- CRC-32C (Castagnoli), table-driven ----------------------------------------------------------

namespace {
constexpr uint32_t kCrc32cPoly = 0x82F63B78u;  // reflected Castagnoli polynomial
constexpr uint32_t kMaskDelta = 0xa282ead8u;   // TFRecord's CRC mask constant

std::array<uint32_t, 256> make_crc_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kCrc32cPoly : c >> 1;
    t[i] = c;
  }
  return t;
}

// Minimal protobuf encoding helpers.
void put_varint(std::string& s, uint64_t v) {
  while (v >= 0x80) {
    s.push_back(char(uint8_t(v) | 0x80));
    v >>= 7;
  }
  s.push_back(char(v));
}
void put_tag(std::string& s, int field, int wire) { put_varint(s, uint64_t(field) << 3 | uint64_t(wire)); }
void put_bytes(std::string& s, int field, const std::string& bytes) {
  put_tag(s, field, 2);
  put_varint(s, bytes.size());
  s += bytes;
}
void put_fixed64(std::string& s, int field, const void* v) {
  put_tag(s, field, 1);
  s.append(static_cast<const char*>(v), 8);
}
void put_fixed32(std::string& s, int field, const void* v) {
  put_tag(s, field, 5);
  s.append(static_cast<const char*>(v), 4);
}

double wall_time() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}
}  // namespace

uint32_t crc32c(const void* data, size_t n) {
  static const auto table = make_crc_table();
  uint32_t c = 0xffffffffu;
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

uint32_t masked_crc32c(const void* data, size_t n) {
  uint32_t c = crc32c(data, n);
  return ((c >> 15) | (c << 17)) + kMaskDelta;
}

TensorBoardWriter::TensorBoardWriter(const std::filesystem::path& dir, std::optional<int64_t> resumed_step) {
  std::filesystem::create_directories(dir);
  char host[256] = "localhost";
  gethostname(host, sizeof(host) - 1);
  path_ = dir / ("events.out.tfevents." + std::to_string(int64_t(wall_time())) + "." + host + "." +
                 std::to_string(getpid()));
  out_.open(path_, std::ios::binary | std::ios::app);
  if (!out_) throw RuntimeFailure("cannot open " + path_.string() + " for writing");
  // Event { wall_time = 1; file_version = 3 }
  std::string ev;
  double t = wall_time();
  put_fixed64(ev, 1, &t);
  put_bytes(ev, 3, "brain.Event:2");
  write_record(ev);
  if (resumed_step) {
    // SessionLog { status = 1 (START) }, Event { wall_time = 1; step = 2; session_log = 7 }:
    // TensorBoard drops the events of older files at steps >= this event's step.
    std::string session_log;
    put_tag(session_log, 1, 0);
    put_varint(session_log, 1);
    std::string start;
    put_fixed64(start, 1, &t);
    put_tag(start, 2, 0);
    put_varint(start, uint64_t(*resumed_step + 1));
    put_bytes(start, 7, session_log);
    write_record(start);
  }
}

void TensorBoardWriter::add_scalar(const std::string& tag, double value, int64_t step) {
  // Summary.Value { tag = 1; simple_value = 2 }, Summary { value = 1 }, Event { wall_time = 1; step = 2; summary = 5 }
  std::string val;
  put_bytes(val, 1, tag);
  float f = float(value);
  put_fixed32(val, 2, &f);
  std::string summary;
  put_bytes(summary, 1, val);
  std::string ev;
  double t = wall_time();
  put_fixed64(ev, 1, &t);
  put_tag(ev, 2, 0);
  put_varint(ev, uint64_t(step));
  put_bytes(ev, 5, summary);
  write_record(ev);
}

void TensorBoardWriter::write_record(const std::string& data) {
  uint64_t len = data.size();
  uint32_t len_crc = masked_crc32c(&len, 8);
  uint32_t data_crc = masked_crc32c(data.data(), data.size());
  out_.write(reinterpret_cast<const char*>(&len), 8);
  out_.write(reinterpret_cast<const char*>(&len_crc), 4);
  out_.write(data.data(), std::streamsize(data.size()));
  out_.write(reinterpret_cast<const char*>(&data_crc), 4);
  out_.flush();
}

void TensorBoardWriter::flush() { out_.flush(); }

}  // namespace anvil::train
