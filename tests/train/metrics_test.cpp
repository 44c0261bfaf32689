// The metric writers on resume: metrics.jsonl keeps only the rows up to the resumed step (rewritten
// atomically), and a new TensorBoard event file starts with SessionLog START at the resumed step + 1
// so that TensorBoard purges the interrupted run's later events.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>

#include "tests/support/test_paths.h"
#include "train/metrics/metrics.h"

namespace anvil::train {
namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::vector<int64_t> jsonl_steps(const fs::path& p) {
  std::vector<int64_t> steps;
  std::ifstream in(p);
  for (std::string line; std::getline(in, line);) steps.push_back(nlohmann::json::parse(line).at("step").get<int64_t>());
  return steps;
}

// One Event of an event file, the fields the writers set.
struct Event {
  std::optional<int64_t> step;
  std::optional<std::string> file_version;
  std::optional<int64_t> session_log_status;  // SessionLog.status (1 = START)
  bool has_summary = false;
};

uint64_t read_varint(const std::string& s, size_t& pos) {
  uint64_t v = 0;
  for (int shift = 0; pos < s.size(); shift += 7) {
    const uint8_t b = uint8_t(s[pos++]);
    v |= uint64_t(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
  }
  ADD_FAILURE() << "truncated varint";
  return v;
}

// Calls f(field, wire, varint value, bytes) for each field of a protobuf message.
template <typename F>
void for_each_field(const std::string& msg, F f) {
  size_t pos = 0;
  while (pos < msg.size()) {
    const uint64_t key = read_varint(msg, pos);
    const int field = int(key >> 3), wire = int(key & 7);
    uint64_t value = 0;
    std::string bytes;
    if (wire == 0) {
      value = read_varint(msg, pos);
    } else if (wire == 1 || wire == 5) {
      const size_t n = wire == 1 ? 8 : 4;
      bytes = msg.substr(pos, n);
      pos += n;
    } else if (wire == 2) {
      const size_t n = size_t(read_varint(msg, pos));
      bytes = msg.substr(pos, n);
      pos += n;
    } else {
      ADD_FAILURE() << "unexpected wire type " << wire;
      return;
    }
    f(field, wire, value, bytes);
  }
}

// The records of an event file (CRCs checked), decoded.
std::vector<Event> read_events(const fs::path& file) {
  const std::string bytes = read_text(file);
  std::vector<Event> events;
  size_t pos = 0;
  while (pos < bytes.size()) {
    EXPECT_LE(pos + 12, bytes.size());
    if (pos + 12 > bytes.size()) break;
    uint64_t len;
    uint32_t len_crc, data_crc;
    std::memcpy(&len, &bytes[pos], 8);
    std::memcpy(&len_crc, &bytes[pos + 8], 4);
    EXPECT_EQ(len_crc, masked_crc32c(&len, 8));
    EXPECT_LE(pos + 12 + len + 4, bytes.size());
    if (pos + 12 + len + 4 > bytes.size()) break;
    const std::string data = bytes.substr(pos + 12, len);
    std::memcpy(&data_crc, &bytes[pos + 12 + len], 4);
    EXPECT_EQ(data_crc, masked_crc32c(data.data(), data.size()));
    pos += 12 + len + 4;
    Event ev;
    for_each_field(data, [&](int field, int, uint64_t value, const std::string& sub) {
      if (field == 2) ev.step = int64_t(value);
      if (field == 3) ev.file_version = sub;
      if (field == 5) ev.has_summary = true;
      if (field == 7) {
        ev.session_log_status = 0;
        for_each_field(sub, [&](int f, int, uint64_t v, const std::string&) {
          if (f == 1) ev.session_log_status = int64_t(v);
        });
      }
    });
    events.push_back(ev);
  }
  return events;
}

std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> out;
  for (auto& e : fs::directory_iterator(dir)) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(JsonlWriter, AppendsWhenNotResumed) {
  const fs::path p = test::scratch_dir() / "run/metrics.jsonl";
  {
    JsonlWriter w(p);
    for (int64_t s = 1; s <= 4; ++s) w.write(s, {{"loss", 1.0 / double(s)}});
  }
  JsonlWriter again(p);
  again.write(5, {{"loss", 0.1}});
  EXPECT_EQ(jsonl_steps(p), (std::vector<int64_t>{1, 2, 3, 4, 5}));
}

TEST(JsonlWriter, ResumeDropsRowsAfterTheResumedStepBeforeAppending) {
  const fs::path dir = test::scratch_dir();
  const fs::path p = dir / "metrics.jsonl";
  {
    JsonlWriter w(p);
    for (int64_t s = 1; s <= 10; ++s) w.write(s, {{"loss", 1.0 / double(s)}});
    w.write(6, {{"val_loss", 2.0}});
    w.write(10, {}, {{"sample", "text"}});
  }
  // A line cut off when the interrupted run was killed is dropped too.
  std::ofstream(p, std::ios::app) << "{\"step\": 11, \"lo";
  {
    JsonlWriter w(p, /*resumed_step=*/6);
    // Rewritten before the first append: rows of steps 1..6 (the val row at 6 too), nothing else.
    EXPECT_EQ(jsonl_steps(p), (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 6}));
    w.write(7, {{"loss", 0.5}});
  }
  EXPECT_EQ(jsonl_steps(p), (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 6, 7}));
  EXPECT_EQ(files_in(dir), std::vector<fs::path>{p});  // no temp file left behind
}

TEST(JsonlWriter, ResumeWithoutAnExistingFileStartsOne) {
  const fs::path p = test::scratch_dir() / "new/metrics.jsonl";
  JsonlWriter w(p, 3);
  w.write(4, {{"loss", 1.0}});
  EXPECT_EQ(jsonl_steps(p), (std::vector<int64_t>{4}));
}

TEST(JsonlWriter, TextThatIsNotValidUtf8IsWrittenWithReplacementCharacters) {
  const fs::path p = test::scratch_dir() / "metrics.jsonl";
  JsonlWriter w(p);
  EXPECT_NO_THROW(w.write(3, {}, {{"sample", std::string("caf\xc3", 4) + " \xff ok"}}));
  const nlohmann::json row = nlohmann::json::parse(read_text(p));
  EXPECT_EQ(row["step"].get<int64_t>(), 3);
  EXPECT_EQ(row["sample"].get<std::string>(), "caf\xef\xbf\xbd \xef\xbf\xbd ok");
}

TEST(TensorBoardWriter, FreshRunHasNoSessionLog) {
  const fs::path dir = test::scratch_dir() / "tb";
  TensorBoardWriter w(dir);
  w.add_scalar("train/loss", 1.5, 1);
  w.flush();
  const std::vector<Event> events = read_events(w.path());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].file_version.value_or(""), "brain.Event:2");
  EXPECT_TRUE(events[1].has_summary);
  EXPECT_EQ(events[1].step.value_or(-1), 1);
  for (const Event& e : events) EXPECT_FALSE(e.session_log_status.has_value());
}

TEST(TensorBoardWriter, ResumedRunStartsWithSessionLogStartAtTheNextStep) {
  const fs::path dir = test::scratch_dir() / "tb";
  TensorBoardWriter w(dir, /*resumed_step=*/8);
  w.add_scalar("train/loss", 1.5, 9);
  w.flush();
  const std::vector<Event> events = read_events(w.path());
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].file_version.value_or(""), "brain.Event:2");
  // TensorBoard purges the events of steps >= 9 that older files hold.
  EXPECT_EQ(events[1].session_log_status.value_or(-1), 1);  // SessionLog.START
  EXPECT_EQ(events[1].step.value_or(-1), 9);
  EXPECT_FALSE(events[1].has_summary);
  EXPECT_TRUE(events[2].has_summary);
  EXPECT_EQ(events[2].step.value_or(-1), 9);
}

}  // namespace
}  // namespace anvil::train
