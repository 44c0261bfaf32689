// The anvil executable: parses the subcommand and maps typed errors to exit codes.
//   0 success, 2 bad input (config, data, checkpoint, tokenizer, flag), 1 runtime failure.
#include <algorithm>
#include <iostream>
#include <map>

#include "cli/command.h"
#include "core/base/error.h"

namespace anvil::cli {
std::vector<CommandSpec>& command_registry() {
  static std::vector<CommandSpec> registry;
  return registry;
}
}  // namespace anvil::cli

int main(int argc, char** argv) {
  using namespace anvil;
  CLI::App app{"anvil: train, fine-tune and evaluate transformer language models"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "anvil 0.1.0");
  auto& registry = cli::command_registry();
  std::sort(registry.begin(), registry.end(),
            [](const cli::CommandSpec& a, const cli::CommandSpec& b) { return a.name < b.name; });
  std::map<CLI::App*, cli::Runner> runners;
  for (auto& spec : registry) {
    CLI::App* sub = app.add_subcommand(spec.name, spec.help);
    runners[sub] = spec.setup(*sub);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  try {
    for (auto& [sub, run] : runners)
      if (sub->parsed()) return run();
    return 2;
  } catch (const InputError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
