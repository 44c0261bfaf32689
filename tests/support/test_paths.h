// Where tests find the repository, the committed fixtures (tests/fixtures: the golden Hugging Face
// checkpoints and GPT-2's tokenizer files, copied from the team's ../shared/data) and the
// anvil binary, plus a scratch folder per test.
#pragma once

#include <filesystem>
#include <string>

namespace anvil::test {

std::filesystem::path source_dir();
std::filesystem::path shared_dir();
std::filesystem::path anvil_binary();
// A fresh empty folder under the build tree, unique to the running test.
std::filesystem::path scratch_dir();

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};
// Runs a shell command and captures its output and exit code.
CommandResult run_command(const std::string& cmd);

// The start of a shell command that runs a program on np MPI ranks, guarded by `timeout 120`, one
// OpenMP thread per rank: "... mpiexec --oversubscribe [--allow-run-as-root] -np <np> ". OpenMPI
// refuses to run as root without --allow-run-as-root, which is added only when running as root;
// --oversubscribe lets 4 ranks run on a 2-core machine.
std::string mpiexec_command(int np);

}  // namespace anvil::test
