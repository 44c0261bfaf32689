// Op coverage: walks core/ops/ops.def (the list of op families) and, for every family, checks that
// its pieces exist: core/ops/<family>.cpp, kernels/cpu/<family>.h (unless flagged no-kernel), and
// a test file under tests/ that declares `// gradcheck-covers: <family> ...` and calls gradcheck.
// A family added to ops.def without these fails here, naming what is missing.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/test_paths.h"

namespace anvil {
namespace {

namespace fs = std::filesystem;

constexpr const char* kCoverageMarker = "// gradcheck-covers:";

struct Family {
  std::string name;
  std::set<std::string> flags;
  int line = 0;
};

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Parses ops.def: `<family> [flag ...]`, `#` comments, blank lines skipped.
std::vector<Family> read_ops_def(const fs::path& path) {
  std::vector<Family> families;
  std::ifstream in(path);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream words(line);
    Family f;
    f.line = number;
    if (!(words >> f.name)) continue;
    for (std::string flag; words >> flag;) f.flags.insert(flag);
    families.push_back(f);
  }
  return families;
}

// family -> test files (relative to tests/) whose marker lines list it and that call gradcheck.
std::map<std::string, std::vector<std::string>> covered_families(const fs::path& tests_dir) {
  std::map<std::string, std::vector<std::string>> covered;
  for (const auto& entry : fs::recursive_directory_iterator(tests_dir)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".cpp") continue;
    const std::string text = read_text(entry.path());
    if (text.find("gradcheck(") == std::string::npos) continue;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      const size_t at = line.find(kCoverageMarker);
      // Only a marker that opens its line counts (this file's own mentions are inside strings).
      if (at == std::string::npos || line.find_first_not_of(" \t") != at) continue;
      std::istringstream names(line.substr(at + std::string(kCoverageMarker).size()));
      for (std::string name; names >> name;)
        covered[name].push_back(fs::relative(entry.path(), tests_dir).string());
    }
  }
  return covered;
}

TEST(OpCoverage, OpsDefParses) {
  const fs::path def = test::source_dir() / "core/ops/ops.def";
  ASSERT_TRUE(fs::exists(def)) << def;
  auto families = read_ops_def(def);
  ASSERT_FALSE(families.empty()) << "no families in " << def;
  std::set<std::string> seen;
  const std::set<std::string> known_flags = {"no-kernel"};
  for (const auto& f : families) {
    EXPECT_TRUE(seen.insert(f.name).second) << def << ":" << f.line << ": family " << f.name << " listed twice";
    for (const auto& flag : f.flags)
      EXPECT_TRUE(known_flags.count(flag)) << def << ":" << f.line << ": unknown flag '" << flag << "'";
  }
  // The families every model needs are on the list.
  for (const char* must : {"elementwise", "matmul", "softmax", "loss", "embedding"})
    EXPECT_TRUE(seen.count(must)) << must << " missing from " << def;
}

TEST(OpCoverage, EveryFamilyHasOpsKernelsAndGradcheck) {
  const fs::path root = test::source_dir();
  auto families = read_ops_def(root / "core/ops/ops.def");
  auto covered = covered_families(root / "tests");
  for (const auto& f : families) {
    SCOPED_TRACE("family " + f.name + " (ops.def line " + std::to_string(f.line) + ")");
    EXPECT_TRUE(fs::exists(root / "core/ops" / (f.name + ".cpp"))) << "core/ops/" << f.name << ".cpp is missing";
    if (!f.flags.count("no-kernel")) {
      EXPECT_TRUE(fs::exists(root / "kernels/cpu" / (f.name + ".h")))
          << "kernels/cpu/" << f.name << ".h is missing (flag the family no-kernel in ops.def if that is by design)";
    }
    EXPECT_TRUE(covered.count(f.name)) << "no test under tests/ carries `" << kCoverageMarker << " " << f.name
                                       << "` together with a gradcheck call";
  }
}

TEST(OpCoverage, MarkersNameOnlyListedFamilies) {
  // A marker with a typo would otherwise silently cover nothing.
  const fs::path root = test::source_dir();
  std::set<std::string> listed;
  for (const auto& f : read_ops_def(root / "core/ops/ops.def")) listed.insert(f.name);
  for (const auto& [name, files] : covered_families(root / "tests"))
    EXPECT_TRUE(listed.count(name)) << files[0] << " marks '" << name << "' covered, but ops.def has no such family";
}

}  // namespace
}  // namespace anvil
