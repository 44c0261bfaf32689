// Internal to train/config: the table of sections and keys, and applying one YAML document (a
// file's top level, or one override turned into a tiny document) onto a Config.
//
// Every value read records where it came from (LoadState::origins), so that the loader's later
// cross-field checks and derived defaults know which keys the user set and on which line.
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "train/config/config.h"

namespace anvil::train::detail {

// Describes the document being applied, to prefix error messages.
struct Source {
  std::string file;           // the config file as the user named it (after base: joining)
  std::string override_text;  // non-empty for an override: errors say "override '<text>'"
  bool is_override() const { return !override_text.empty(); }
  // "file:LINE" (1-based), "file" when the mark is unknown, or "override '...'".
  std::string where(const YAML::Mark& mark) const;
};

struct LoadState {
  // Key path ("training.max_steps") -> where the value that won was set. Keys absent here hold
  // the built-in default.
  std::map<std::string, std::string> origins;
  // The file load_config() was given, for errors about keys nobody set.
  std::string root_file;
  bool user_set(const std::string& key_path) const { return origins.count(key_path) > 0; }
};

// Applies the mapping `root` (sections -> keys -> values) onto `config`. A top-level `base:` key is
// skipped for files (the loader follows it) and refused in overrides. Throws ConfigError.
void apply_document(const YAML::Node& root, const Source& source, Config& config, LoadState& state);

// The section names and, per section, the key names the schema accepts (for hints and tests).
std::vector<std::string> section_names();
std::vector<std::string> key_names(std::string_view section);

}  // namespace anvil::train::detail
