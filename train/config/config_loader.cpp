// load_config(): reads a config file and its base: chain, applies overrides, fills derived
// defaults and runs the cross-field checks; plus the helpers that depend on a resolved config.
//
// The base chain is collected leaf-first (to detect cycles by canonical path), then applied
// root-first so that each file's keys win over its base's, and overrides win over every file.
// Derived defaults (d_ff, tie_embeddings, n_kv_head) are filled only for keys nobody set, so
// switching arch in a child file also switches those defaults.
#include <algorithm>
#include <fstream>
#include <sstream>

#include "core/base/error.h"
#include "train/config/config.h"
#include "train/config/config_schema.h"

namespace anvil::train {
namespace {

namespace fs = std::filesystem;
using detail::LoadState;
using detail::Source;

// Llama's feed-forward width rounds up to a multiple of this.
constexpr int64_t kLlamaFfnMultipleOf = 64;
constexpr int64_t kMaxBucketMb = 4096;  // distributed.bucket_mb

struct Document {
  std::string display_path;  // as the user would name it, for messages
  YAML::Node root;
};

std::string read_config_text(const fs::path& path, const std::string& referenced_from) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    throw ConfigError("config file '" + path.string() + "' not found" +
                      (referenced_from.empty() ? "" : " (named by base: at " + referenced_from + ")"));
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in.good() && !in.eof()) throw ConfigError("config file '" + path.string() + "' cannot be read");
  return text.str();
}

YAML::Node parse_yaml(const std::string& text, const std::string& display_path) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(display_path + ":" + std::to_string(e.mark.line + 1) + ":" +
                      std::to_string(e.mark.column + 1) + ": malformed YAML: " + e.msg);
  }
}

// The file and its bases, leaf first. Throws on a missing file, a bad base: value or a cycle.
std::vector<Document> read_base_chain(const fs::path& file) {
  std::vector<Document> chain;
  std::vector<fs::path> visited;  // canonical paths, for cycle detection
  fs::path current = file;
  std::string referenced_from;
  while (true) {
    const std::string display = current.lexically_normal().string();
    const std::string text = read_config_text(current, referenced_from);
    const fs::path canonical = fs::weakly_canonical(current);
    for (size_t i = 0; i < visited.size(); ++i) {
      if (visited[i] != canonical) continue;
      std::string cycle;
      for (size_t j = i; j < chain.size(); ++j) cycle += chain[j].display_path + " -> ";
      throw ConfigError(referenced_from + ": base: cycle in base files: " + cycle + display);
    }
    visited.push_back(canonical);
    chain.push_back({display, parse_yaml(text, display)});

    const YAML::Node& root = chain.back().root;
    if (!root.IsMap()) break;
    const YAML::Node base = root["base"];
    if (!base) break;
    const std::string where = display + ":" + std::to_string(base.Mark().line + 1);
    if (!base.IsScalar() || base.Scalar().empty()) {
      throw ConfigError(where + ": base: expected the path of another config file (relative to " +
                        display + ")");
    }
    referenced_from = where;
    const fs::path base_path(base.Scalar());
    current = base_path.is_absolute() ? base_path : current.parent_path() / base_path;
  }
  return chain;
}

// "training.max_steps=5" -> the tiny document {training: {max_steps: 5}}.
YAML::Node override_document(const std::string& text) {
  const std::string where = "override '" + text + "'";
  const size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw ConfigError(where + ": expected SECTION.KEY=VALUE, e.g. training.max_steps=100");
  }
  const std::string path = text.substr(0, eq);
  const std::string value_text = text.substr(eq + 1);
  std::vector<std::string> parts;
  std::stringstream split(path);
  for (std::string part; std::getline(split, part, '.');) parts.push_back(part);
  if (parts.empty() || parts.size() > 2 || path.back() == '.' ||
      std::any_of(parts.begin(), parts.end(), [](const std::string& p) { return p.empty(); })) {
    throw ConfigError(where + ": expected a key path of the form SECTION.KEY (or SECTION), got '" +
                      path + "'");
  }
  YAML::Node value;
  try {
    value = YAML::Load(value_text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(where + ": malformed value: " + e.msg);
  }
  YAML::Node doc(YAML::NodeType::Map);
  if (parts.size() == 1) {
    doc[parts[0]] = value;
  } else {
    YAML::Node section(YAML::NodeType::Map);
    section[parts[1]] = value;
    doc[parts[0]] = section;
  }
  return doc;
}

void fill_derived_defaults(Config& c, const LoadState& state) {
  if (!state.user_set("model.n_kv_head")) c.model.n_kv_head = c.model.n_head;
  if (!state.user_set("model.tie_embeddings")) c.model.tie_embeddings = c.model.arch == "gpt2";
  if (c.model.d_ff == 0) c.model.d_ff = derived_d_ff(c.model.arch, c.model.d_model);
}

// Cross-field checks. With a LoadState, messages start with where the first-named key was set.
void check_cross_fields(const Config& c, const LoadState* state) {
  // Reports at where `key` was set, else where `related` was set, else the loaded file.
  auto fail = [&](const std::string& key, const std::string& message, const std::string& related = "") {
    std::string where = "config";
    if (state != nullptr) {
      where = state->root_file;
      for (const std::string& k : {key, related}) {
        auto it = state->origins.find(k);
        if (it != state->origins.end()) {
          where = it->second;
          break;
        }
      }
    }
    throw ConfigError(where + ": " + key + ": " + message);
  };
  const ModelSection& m = c.model;
  const auto s = [](int64_t v) { return std::to_string(v); };

  // Shape checks are skipped for init_from: the checkpoint brings its own shape.
  if (m.init_from.empty()) {
    if (m.n_kv_head > m.n_head || m.n_head % m.n_kv_head != 0) {
      fail("model.n_kv_head",
           "expected a divisor of model.n_head (" + s(m.n_head) + "), got " + s(m.n_kv_head),
           "model.n_head");
    }
    if (m.arch == "gpt2" && m.n_kv_head != m.n_head) {
      fail("model.n_kv_head",
           "gpt2 uses full multi-head attention: expected model.n_head (" + s(m.n_head) +
               ") or leave it out, got " + s(m.n_kv_head),
           "model.arch");
    }
    if (m.d_model % m.n_head != 0) {
      fail("model.d_model",
           "expected a multiple of model.n_head (" + s(m.n_head) + "), got " + s(m.d_model),
           "model.n_head");
    }
    if (m.arch == "llama" && (m.d_model / m.n_head) % 2 != 0) {
      fail("model.d_model",
           "llama's rotary embedding needs an even head size, but d_model/n_head = " +
               s(m.d_model / m.n_head),
           "model.n_head");
    }
    if (m.d_ff <= 0) fail("model.d_ff", "expected a positive integer, got " + s(m.d_ff));
    if (c.data.seq_len > m.max_seq_len) {
      fail("data.seq_len",
           "expected at most model.max_seq_len (" + s(m.max_seq_len) + "), got " + s(c.data.seq_len),
           "model.max_seq_len");
    }
  }
  const TrainingConfig& t = c.training;
  const int64_t tokens_per_micro_batch = t.micro_batch_size * c.data.seq_len;
  if (t.global_batch_tokens % tokens_per_micro_batch != 0) {
    fail("training.global_batch_tokens",
         "expected a multiple of training.micro_batch_size * data.seq_len = " +
             s(t.micro_batch_size) + " * " + s(c.data.seq_len) + " = " + s(tokens_per_micro_batch) +
             ", got " + s(t.global_batch_tokens),
         "training.micro_batch_size");
  }
  // warmup_steps > max_steps is allowed on purpose: "training.max_steps=5" must work as a smoke
  // test of any config; the schedule simply never leaves warmup then.
  if (t.eval_every > 0 && c.data.val.empty()) {
    fail("training.eval_every", "evaluation needs data.val; set data.val or eval_every: 0",
         "data.val");
  }
  if (t.sample_every > 0 && c.data.tokenizer.empty()) {
    fail("training.sample_every", "sampling needs data.tokenizer; set it or sample_every: 0",
         "data.tokenizer");
  }
  const bool on_cuda = c.run.device.rfind("cuda", 0) == 0;
  if (!on_cuda && c.kernels.gemm == "cublas") {
    fail("kernels.gemm", "cublas needs run.device cuda, but run.device is " + c.run.device,
         "run.device");
  }
  if (!on_cuda && c.kernels.attention == "cudnn") {
    fail("kernels.attention", "cudnn needs run.device cuda, but run.device is " + c.run.device,
         "run.device");
  }
  if (!on_cuda && c.distributed.backend == "nccl") {
    fail("distributed.backend", "nccl needs run.device cuda, but run.device is " + c.run.device,
         "run.device");
  }
  // A bucket is one collective call: MPI counts are int, so buckets stay well below 2^31 floats.
  if (c.distributed.bucket_mb > kMaxBucketMb) {
    fail("distributed.bucket_mb", "expected at most " + s(kMaxBucketMb) + " (MB), got " + s(c.distributed.bucket_mb));
  }
}

}  // namespace

int64_t derived_d_ff(const std::string& arch, int64_t d_model) {
  if (arch != "llama") return 4 * d_model;
  const int64_t two_thirds_of_4x = 2 * (4 * d_model) / 3;
  return (two_thirds_of_4x + kLlamaFfnMultipleOf - 1) / kLlamaFfnMultipleOf * kLlamaFfnMultipleOf;
}

Config default_config() {
  Config c;
  fill_derived_defaults(c, LoadState{});
  return c;
}

void validate_config(const Config& c) { check_cross_fields(c, nullptr); }

namespace {

// An empty or all-comment file is a mistake (it would train for an hour on built-in defaults), and
// so is a config that never names its model or its data: it must say which section is missing.
void check_required_sections(const std::vector<Document>& chain, const std::string& root_file) {
  for (const Document& doc : chain)
    if (doc.root.IsNull())
      throw ConfigError(doc.display_path + ": the config file is empty (or holds only comments); a config needs at "
                        "least the model: and data: sections (configs/tiny.yaml is a complete example)");
  const std::pair<const char*, const char*> required[] = {
      {"model", "the model to train (arch, n_layer, n_head, d_model, vocab_size, ...)"},
      {"data", "the data to train on (train, val, tokenizer, seq_len)"}};
  for (const auto& [section, what] : required) {
    const bool present = std::any_of(chain.begin(), chain.end(), [&](const Document& doc) {
      const YAML::Node& root = doc.root;
      return root.IsMap() && root[section].IsDefined();
    });
    if (!present)
      throw ConfigError(root_file + ": no '" + section + "' section" +
                        (chain.size() > 1 ? " in it or its base: files" : "") + "; a config must name " + what +
                        " (configs/tiny.yaml is a complete example)");
  }
}

}  // namespace

Config load_config(const fs::path& file, const std::vector<std::string>& overrides) {
  Config config;
  LoadState state;
  state.root_file = file.lexically_normal().string();
  const std::vector<Document> chain = read_base_chain(file);
  for (auto doc = chain.rbegin(); doc != chain.rend(); ++doc) {
    detail::apply_document(doc->root, Source{doc->display_path, ""}, config, state);
  }
  for (const std::string& text : overrides) {
    detail::apply_document(override_document(text), Source{"", text}, config, state);
  }
  // Missing sections first: a cross-field error about a default would hide the real mistake.
  check_required_sections(chain, state.root_file);
  fill_derived_defaults(config, state);
  check_cross_fields(config, &state);
  config.source_path = file.string();
  return config;
}

int64_t grad_accum_steps(const Config& c, int world_size) {
  if (world_size < 1) throw ConfigError("world size must be at least 1, got " + std::to_string(world_size));
  const int64_t tokens_per_round = c.training.micro_batch_size * c.data.seq_len * world_size;
  if (c.training.global_batch_tokens % tokens_per_round != 0) {
    throw ConfigError("training.global_batch_tokens: expected a multiple of micro_batch_size * "
                      "seq_len * world_size = " + std::to_string(c.training.micro_batch_size) +
                      " * " + std::to_string(c.data.seq_len) + " * " + std::to_string(world_size) +
                      " = " + std::to_string(tokens_per_round) + ", got " +
                      std::to_string(c.training.global_batch_tokens));
  }
  return c.training.global_batch_tokens / tokens_per_round;
}

}  // namespace anvil::train
