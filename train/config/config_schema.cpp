// The config schema: one table row per YAML key, each with a setter that parses and range-checks
// its value, plus the walk that applies a YAML document onto a Config through that table.
//
// Scalars are parsed here with std::from_chars rather than yaml-cpp's stream conversions, so that
// "1e3" is refused as an integer, "12abc" is refused everywhere, and the messages can say exactly
// what was expected ("a positive integer", "one of fp32, bf16, fp16").
#include "train/config/config_schema.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <initializer_list>
#include <set>

#include "core/base/device.h"
#include "core/base/error.h"
#include "core/base/text.h"

namespace anvil::train::detail {
namespace {

// How far (in edits) an unknown key may be from a valid one and still be suggested.
int64_t max_hint_distance(std::string_view key) {
  return std::max<int64_t>(2, static_cast<int64_t>(key.size()) / 3);
}

std::string describe_node(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null: return "nothing";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Scalar: return "'" + node.Scalar() + "'";
    default: return "an undefined value";
  }
}

// One value being read: its node, its key path and where it sits, with typed readers that throw
// ConfigError("<where>: <key>: expected <what>, got <value>").
class Value {
 public:
  Value(YAML::Node node, std::string key_path, std::string where)
      : node_(std::move(node)), key_path_(std::move(key_path)), where_(std::move(where)) {}

  [[noreturn]] void fail(const std::string& expected) const {
    throw ConfigError(where_ + ": " + key_path_ + ": expected " + expected + ", got " +
                      describe_node(node_));
  }

  int64_t integer(int64_t min, const char* expected) const {
    const std::string text = scalar(expected);
    int64_t value = 0;
    const char* begin = text.data();
    const char* end = begin + text.size();
    if (begin != end && *begin == '+') ++begin;
    auto [ptr, ec] = std::from_chars(begin, end, value);
    if (ec != std::errc() || ptr != end || value < min) fail(expected);
    return value;
  }
  int64_t positive_int() const { return integer(1, "a positive integer"); }
  int64_t non_negative_int() const { return integer(0, "a non-negative integer"); }

  uint64_t unsigned_int() const {
    const char* expected = "a non-negative integer";
    const std::string text = scalar(expected);
    uint64_t value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || ptr != text.data() + text.size()) fail(expected);
    return value;
  }

  // A finite number in [lo, hi] (or (lo, hi] / [lo, hi) per the flags), described by `expected`.
  double number(double lo, bool lo_open, double hi, bool hi_open, const std::string& expected) const {
    const std::string text = scalar(expected);
    double value = 0;
    const char* begin = text.data();
    const char* end = begin + text.size();
    if (begin != end && *begin == '+') ++begin;
    auto [ptr, ec] = std::from_chars(begin, end, value);
    if (ec != std::errc() || ptr != end || !std::isfinite(value)) fail(expected);
    if (value < lo || (lo_open && value == lo) || value > hi || (hi_open && value == hi)) fail(expected);
    return value;
  }
  double positive_number() const {
    return number(0, true, HUGE_VAL, false, "a positive number");
  }
  double non_negative_number() const {
    return number(0, false, HUGE_VAL, false, "a non-negative number");
  }

  bool boolean() const {
    const char* expected = "true or false";
    std::string text = scalar(expected);
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char ch) {
      return static_cast<char>(std::tolower(ch));
    });
    if (text == "true" || text == "yes" || text == "on") return true;
    if (text == "false" || text == "no" || text == "off") return false;
    fail(expected);
  }

  std::string string(bool allow_empty) const {
    const char* expected = allow_empty ? "a string" : "a non-empty string";
    if (allow_empty && node_.IsNull()) return "";
    std::string text = scalar(expected);
    if (!allow_empty && text.empty()) fail(expected);
    return text;
  }

  std::string one_of(std::initializer_list<const char*> choices) const {
    std::string expected = "one of ";
    for (const char* choice : choices) {
      if (expected.size() > 7) expected += ", ";
      expected += choice;
    }
    const std::string text = scalar(expected);
    for (const char* choice : choices) {
      if (text == choice) return text;
    }
    fail(expected);
  }

  // The i-th element of a list value, for keys such as betas: [0.9, 0.95].
  Value element(size_t i) const {
    return Value(node_[i], key_path_ + "[" + std::to_string(i) + "]", where_);
  }
  const YAML::Node& node() const { return node_; }

 private:
  std::string scalar(const std::string& expected) const {
    if (!node_.IsScalar()) fail(expected);
    return node_.Scalar();
  }

  YAML::Node node_;
  std::string key_path_;
  std::string where_;
};

using Setter = void (*)(Config&, const Value&);
struct KeySpec {
  std::string_view name;
  Setter set;
};
struct SectionSpec {
  std::string_view name;
  std::vector<KeySpec> keys;
  bool reserved = false;  // accepted only empty: "reserved for a later release"
};

void set_device(Config& c, const Value& v) {
  const char* expected = "cpu, cuda or cuda:N";
  const std::string text = v.string(false);
  try {
    Device::parse(text);
  } catch (const InputError&) {
    v.fail(expected);
  }
  c.run.device = text;
}

void set_betas(Config& c, const Value& v) {
  const char* expected = "a list of two numbers in [0, 1), e.g. [0.9, 0.95]";
  if (!v.node().IsSequence() || v.node().size() != 2) v.fail(expected);
  c.optimizer.beta1 = v.element(0).number(0, false, 1, true, "a number in [0, 1)");
  c.optimizer.beta2 = v.element(1).number(0, false, 1, true, "a number in [0, 1)");
}

const std::vector<SectionSpec>& schema() {
  // Setters are captureless lambdas; each parses one key with the reader that states its range.
  static const std::vector<SectionSpec> table = {
      {"run",
       {{"name", [](Config& c, const Value& v) { c.run.name = v.string(false); }},
        {"output_dir", [](Config& c, const Value& v) { c.run.output_dir = v.string(false); }},
        {"seed", [](Config& c, const Value& v) { c.run.seed = v.unsigned_int(); }},
        {"device", set_device}}},
      {"model",
       {{"arch", [](Config& c, const Value& v) { c.model.arch = v.one_of({"gpt2", "llama"}); }},
        {"n_layer", [](Config& c, const Value& v) { c.model.n_layer = v.positive_int(); }},
        {"n_head", [](Config& c, const Value& v) { c.model.n_head = v.positive_int(); }},
        {"n_kv_head", [](Config& c, const Value& v) { c.model.n_kv_head = v.positive_int(); }},
        {"d_model", [](Config& c, const Value& v) { c.model.d_model = v.positive_int(); }},
        {"d_ff",
         [](Config& c, const Value& v) {
           c.model.d_ff = v.integer(0, "a non-negative integer (0 = derived from d_model)");
         }},
        {"vocab_size", [](Config& c, const Value& v) { c.model.vocab_size = v.positive_int(); }},
        {"max_seq_len", [](Config& c, const Value& v) { c.model.max_seq_len = v.positive_int(); }},
        {"dropout",
         [](Config& c, const Value& v) {
           c.model.dropout = v.number(0, false, 1, true, "a number in [0, 1)");
         }},
        {"norm_eps", [](Config& c, const Value& v) { c.model.norm_eps = v.positive_number(); }},
        {"rope_theta", [](Config& c, const Value& v) { c.model.rope_theta = v.positive_number(); }},
        {"tie_embeddings",
         [](Config& c, const Value& v) { c.model.tie_embeddings = v.boolean(); }},
        {"init_std", [](Config& c, const Value& v) { c.model.init_std = v.positive_number(); }},
        {"init_from", [](Config& c, const Value& v) { c.model.init_from = v.string(true); }}}},
      {"data",
       {{"train", [](Config& c, const Value& v) { c.data.train = v.string(false); }},
        {"val", [](Config& c, const Value& v) { c.data.val = v.string(true); }},
        {"tokenizer", [](Config& c, const Value& v) { c.data.tokenizer = v.string(true); }},
        {"seq_len", [](Config& c, const Value& v) { c.data.seq_len = v.positive_int(); }}}},
      {"training",
       {{"micro_batch_size",
         [](Config& c, const Value& v) { c.training.micro_batch_size = v.positive_int(); }},
        {"global_batch_tokens",
         [](Config& c, const Value& v) { c.training.global_batch_tokens = v.positive_int(); }},
        {"max_steps", [](Config& c, const Value& v) { c.training.max_steps = v.positive_int(); }},
        {"precision",
         [](Config& c, const Value& v) {
           c.training.precision = v.one_of({"fp32", "bf16", "fp16"});
         }},
        {"grad_clip",
         [](Config& c, const Value& v) { c.training.grad_clip = v.non_negative_number(); }},
        {"eval_every",
         [](Config& c, const Value& v) { c.training.eval_every = v.non_negative_int(); }},
        {"eval_steps", [](Config& c, const Value& v) { c.training.eval_steps = v.positive_int(); }},
        {"log_every", [](Config& c, const Value& v) { c.training.log_every = v.positive_int(); }},
        {"checkpoint_every",
         [](Config& c, const Value& v) { c.training.checkpoint_every = v.non_negative_int(); }},
        {"keep_checkpoints",
         [](Config& c, const Value& v) { c.training.keep_checkpoints = v.non_negative_int(); }},
        {"resume",
         [](Config& c, const Value& v) {
           c.training.resume = v.string(false);  // auto | never | a checkpoint path
         }},
        {"sample_every",
         [](Config& c, const Value& v) { c.training.sample_every = v.non_negative_int(); }},
        {"sample_tokens",
         [](Config& c, const Value& v) { c.training.sample_tokens = v.positive_int(); }}}},
      {"optimizer",
       {{"name", [](Config& c, const Value& v) { c.optimizer.name = v.one_of({"adamw", "sgd"}); }},
        {"lr", [](Config& c, const Value& v) { c.optimizer.lr = v.positive_number(); }},
        {"betas", set_betas},
        {"eps", [](Config& c, const Value& v) { c.optimizer.eps = v.positive_number(); }},
        {"weight_decay",
         [](Config& c, const Value& v) { c.optimizer.weight_decay = v.non_negative_number(); }},
        {"momentum",
         [](Config& c, const Value& v) {
           c.optimizer.momentum = v.number(0, false, 1, true, "a number in [0, 1)");
         }}}},
      {"scheduler",
       {{"name",
         [](Config& c, const Value& v) {
           c.scheduler.name = v.one_of({"constant", "cosine", "linear", "wsd"});
         }},
        {"warmup_steps",
         [](Config& c, const Value& v) { c.scheduler.warmup_steps = v.non_negative_int(); }},
        {"min_lr_ratio",
         [](Config& c, const Value& v) {
           c.scheduler.min_lr_ratio = v.number(0, false, 1, false, "a number in [0, 1]");
         }},
        {"decay_ratio",
         [](Config& c, const Value& v) {
           c.scheduler.decay_ratio = v.number(0, true, 1, false, "a number in (0, 1]");
         }}}},
      {"logging",
       {{"jsonl", [](Config& c, const Value& v) { c.logging.jsonl = v.boolean(); }},
        {"tensorboard", [](Config& c, const Value& v) { c.logging.tensorboard = v.boolean(); }},
        {"progress",
         [](Config& c, const Value& v) {
           c.logging.progress = v.one_of({"auto", "always", "never"});
         }}}},
      {"kernels",
       {{"gemm", [](Config& c, const Value& v) { c.kernels.gemm = v.one_of({"anvil", "cublas"}); }},
        {"attention",
         [](Config& c, const Value& v) { c.kernels.attention = v.one_of({"anvil", "cudnn"}); }},
        {"tf32", [](Config& c, const Value& v) { c.kernels.tf32 = v.boolean(); }}}},
      {"distributed",
       {{"backend",
         [](Config& c, const Value& v) {
           c.distributed.backend = v.one_of({"auto", "nccl", "mpi", "none"});
         }},
        {"bucket_mb", [](Config& c, const Value& v) { c.distributed.bucket_mb = v.positive_int(); }},
        {"zero_stage",
         [](Config& c, const Value& v) {
           c.distributed.zero_stage = std::stoll(v.one_of({"0", "1"}));
         }},
        {"timeout_s",
         [](Config& c, const Value& v) { c.distributed.timeout_s = v.positive_int(); }}}},
      {"finetune", {}, true},
      {"qat", {}, true},
  };
  return table;
}

// The top-level keys a document may hold: the sections plus base.
constexpr std::string_view kBaseKey = "base";

// " (did you mean 'x'?)" or a list of the valid keys when nothing is close.
std::string hint_for(std::string_view unknown, std::string_view section,
                     const std::vector<std::string>& candidates) {
  // A key that exists verbatim in another section was most likely put in the wrong one.
  for (const SectionSpec& other : schema()) {
    for (const KeySpec& key : other.keys) {
      if (key.name == unknown && other.name != section) {
        return "; did you mean '" + std::string(other.name) + "." + std::string(key.name) + "'?";
      }
    }
  }
  std::string best;
  int64_t best_distance = max_hint_distance(unknown) + 1;
  for (const std::string& candidate : candidates) {
    const int64_t d = edit_distance(unknown, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  if (!best.empty()) return "; did you mean '" + best + "'?";
  std::string list = "; valid keys: ";
  for (size_t i = 0; i < candidates.size(); ++i) list += (i ? ", " : "") + candidates[i];
  return list;
}

// The position to report for a value: its own mark, or its key's when the value is empty
// (yaml-cpp places an empty value at the next token, often on the following line).
YAML::Mark value_mark(const YAML::Node& key, const YAML::Node& value) {
  const YAML::Mark mark = value.Mark();
  return mark.is_null() || value.IsNull() ? key.Mark() : mark;
}

std::string key_text(const YAML::Node& key, const Source& source, const std::string& parent) {
  if (!key.IsScalar()) {
    throw ConfigError(source.where(key.Mark()) + ": " + (parent.empty() ? "" : parent + ": ") +
                      "keys must be plain names, got " + describe_node(key));
  }
  return key.Scalar();
}

void apply_section(const SectionSpec& section, const YAML::Node& key_node, const YAML::Node& body,
                   const Source& source, Config& config, LoadState& state) {
  const std::string section_name(section.name);
  if (body.IsNull()) return;  // "model:" with nothing below is an empty section
  if (!body.IsMap()) {
    throw ConfigError(source.where(value_mark(key_node, body)) + ": " + section_name +
                      ": expected a mapping of keys, got " + describe_node(body));
  }
  std::set<std::string> seen;
  for (const auto& entry : body) {
    const std::string name = key_text(entry.first, source, section_name);
    const std::string path = section_name + "." + name;
    const std::string where = source.where(entry.first.Mark());
    if (section.reserved) {
      throw ConfigError(where + ": " + path + ": the '" + section_name +
                        "' section is reserved for a later release; leave it empty");
    }
    if (!seen.insert(name).second) throw ConfigError(where + ": " + path + ": duplicate key");
    auto spec = std::find_if(section.keys.begin(), section.keys.end(),
                             [&](const KeySpec& k) { return k.name == name; });
    if (spec == section.keys.end()) {
      throw ConfigError(where + ": unknown key '" + path + "'" +
                        hint_for(name, section.name, key_names(section.name)));
    }
    const std::string value_where = source.where(value_mark(entry.first, entry.second));
    spec->set(config, Value(entry.second, path, value_where));
    state.origins[path] = value_where;
  }
}

}  // namespace

std::string Source::where(const YAML::Mark& mark) const {
  if (is_override()) return "override '" + override_text + "'";
  if (mark.is_null()) return file;
  return file + ":" + std::to_string(mark.line + 1);
}

std::vector<std::string> section_names() {
  std::vector<std::string> names;
  for (const SectionSpec& s : schema()) names.emplace_back(s.name);
  return names;
}

std::vector<std::string> key_names(std::string_view section) {
  std::vector<std::string> names;
  for (const SectionSpec& s : schema()) {
    if (s.name != section) continue;
    for (const KeySpec& k : s.keys) names.emplace_back(k.name);
  }
  return names;
}

void apply_document(const YAML::Node& root, const Source& source, Config& config,
                    LoadState& state) {
  if (root.IsNull()) return;  // an empty file: nothing changes
  if (!root.IsMap()) {
    throw ConfigError(source.where(root.Mark()) +
                      ": expected a mapping of sections (run:, model:, ...) at the top level, got " +
                      describe_node(root));
  }
  std::set<std::string> seen;
  for (const auto& entry : root) {
    const std::string name = key_text(entry.first, source, "");
    const std::string where = source.where(entry.first.Mark());
    if (!seen.insert(name).second) throw ConfigError(where + ": " + name + ": duplicate key");
    if (name == kBaseKey) {
      if (source.is_override()) {
        throw ConfigError(where + ": base: cannot be overridden; name the file to load instead");
      }
      continue;  // the loader has followed it already
    }
    const auto& sections = schema();
    auto section = std::find_if(sections.begin(), sections.end(),
                                [&](const SectionSpec& s) { return s.name == name; });
    if (section == sections.end()) {
      std::vector<std::string> candidates = section_names();
      if (!source.is_override()) candidates.emplace_back(kBaseKey);
      throw ConfigError(where + ": unknown key '" + name + "'" + hint_for(name, "", candidates));
    }
    apply_section(*section, entry.first, entry.second, source, config, state);
  }
}

}  // namespace anvil::train::detail
