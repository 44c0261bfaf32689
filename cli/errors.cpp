#include "cli/errors.h"

#include <algorithm>
#include <numeric>

#include "core/base/error.h"
#include "core/base/text.h"

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

std::string closest_name(std::string_view word, const std::vector<std::string>& names) {
  std::string best;
  int64_t best_distance = 0;
  for (const std::string& name : names) {
    const int64_t d = edit_distance(word, name);
    if (best.empty() || d < best_distance) best = name, best_distance = d;
  }
  return best;
}

}  // namespace anvil::cli
