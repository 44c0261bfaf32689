// What the anvil binary prints and returns when a command fails, and the suggestion for an
// unknown command. Kept out of main.cpp so that tests can call them.
//
//   exit 2  InputError (config, data, checkpoint, tokenizer, flag): "error: <what>"
//   exit 1  InternalError (a bug in anvil, e.g. an op contract violation): "internal error: <what>"
//           and what to put in a report (version, commit, command line)
//   exit 1  anything else (RuntimeFailure: disk full, CUDA error...): "error: <what>"
#pragma once

#include <exception>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace anvil::cli {

// "anvil <version> (commit <hash>)", the build's version line.
std::string version_line();

// The command line as typed, arguments with spaces or quotes single-quoted.
std::string command_line(int argc, const char* const* argv);

// Prints the message for the exception `e` escaping a command to `err` and returns the exit code
// (see the file comment). command_line goes into the internal-error report.
int report_exception(std::exception_ptr e, std::ostream& err, const std::string& command_line);

// The name in `names` closest to `word` by edit distance (the first of equals); empty if none.
std::string closest_name(std::string_view word, const std::vector<std::string>& names);

}  // namespace anvil::cli
