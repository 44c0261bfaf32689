// Subcommands register themselves here, one file per subcommand (cli/cmd_<name>.cpp), so adding a
// command touches no shared file:
//
//   static anvil::cli::Command reg("eval", "Compute loss ...", [](CLI::App& app) {
//     auto opts = std::make_shared<EvalOptions>();
//     app.add_option("--model", opts->model, "...");
//     return [opts] { return run_eval(*opts); };   // runs after parsing; returns the exit code
//   });
//
// main.cpp maps exceptions to exit codes (cli/errors.h): InputError (and CLI parse errors) -> 2,
// InternalError (a bug) and others -> 1.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace anvil::cli {

using Runner = std::function<int()>;
using Setup = std::function<Runner(CLI::App&)>;

struct CommandSpec {
  std::string name;
  std::string help;
  Setup setup;
};

std::vector<CommandSpec>& command_registry();

struct Command {
  Command(std::string name, std::string help, Setup setup) {
    command_registry().push_back({std::move(name), std::move(help), std::move(setup)});
  }
};

}  // namespace anvil::cli
