#include "cli/errors.h"

#include <algorithm>
#include <numeric>

#include "core/base/error.h"

#ifndef ANVIL_VERSION
#define ANVIL_VERSION "unknown"
#endif
#ifndef ANVIL_GIT_COMMIT
#define ANVIL_GIT_COMMIT "unknown"
#endif

namespace anvil::cli {

std::string version_line() { return std::string("anvil ") + ANVIL_VERSION + " (commit " + ANVIL_GIT_COMMIT + ")"; }

std::string command_line(int argc, const char* const* argv) {
  std::string out;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (i > 0) out += ' ';
    if (arg.empty() || arg.find_first_of(" \t\n'\"\\$`*?") != std::string::npos) {
      std::string quoted = "'";
      for (char c : arg) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
      arg = quoted + "'";
    }
    out += arg;
  }
  return out;
}

int report_exception(std::exception_ptr e, std::ostream& err, const std::string& command_line) {
  auto internal = [&](const std::string& what) {
    err << "internal error: " << what << "\n"
        << "This is a bug in anvil, not a problem with your input. Please report it at the project's issue "
           "tracker with the command and config, and these lines:\n"
        << "  version: " << version_line() << "\n"
        << "  command: " << command_line << "\n";
    return 1;
  };
  try {
    std::rethrow_exception(e);
  } catch (const InputError& x) {
    err << "error: " << x.what() << "\n";
    return 2;
  } catch (const InternalError& x) {
    return internal(x.what());
  } catch (const std::logic_error& x) {  // a broken precondition in the standard library: a bug too
    return internal(x.what());
  } catch (const std::exception& x) {
    err << "error: " << x.what() << "\n";
    return 1;
  } catch (...) {
    return internal("an exception that is not a std::exception");
  }
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), size_t(0));
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string closest_name(std::string_view word, const std::vector<std::string>& names) {
  std::string best;
  size_t best_distance = 0;
  for (const std::string& name : names) {
    const size_t d = edit_distance(word, name);
    if (best.empty() || d < best_distance) best = name, best_distance = d;
  }
  return best;
}

}  // namespace anvil::cli
