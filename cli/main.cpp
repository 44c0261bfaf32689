// The anvil executable: parses the subcommand and maps typed errors to exit codes (cli/errors.h):
//   0 success, 2 bad input (config, data, checkpoint, tokenizer, flag, unknown command),
//   1 runtime failure or internal error (a bug: reported as such, with what to put in a report).
#include <algorithm>
#include <iostream>
#include <map>

#include "cli/command.h"
#include "cli/errors.h"

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
  app.set_version_flag("--version", cli::version_line());
  // Every subcommand's --help shows each option's default (subcommands copy these option defaults).
  app.option_defaults()->always_capture_default();
  auto& registry = cli::command_registry();
  std::sort(registry.begin(), registry.end(),
            [](const cli::CommandSpec& a, const cli::CommandSpec& b) { return a.name < b.name; });
  std::vector<std::string> names;
  std::map<CLI::App*, cli::Runner> runners;
  for (auto& spec : registry) {
    CLI::App* sub = app.add_subcommand(spec.name, spec.help);
    runners[sub] = spec.setup(*sub);
    for (CLI::Option* opt : sub->get_options())  // an empty list has no default worth showing
      if (opt->get_default_str() == "[]" || opt->get_default_str() == "{}") opt->default_str("");
    names.push_back(spec.name);
  }

  // The first word that is not a flag names the command (the top level has no option that takes a
  // value); CLI11 would only say "A subcommand is required" for a misspelt one.
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (word.empty() || word[0] == '-') continue;
    if (std::find(names.begin(), names.end(), word) == names.end()) {
      std::string all;
      for (const std::string& n : names) all += (all.empty() ? "" : ", ") + n;
      std::cerr << "error: unknown command '" << word << "'; did you mean '" << cli::closest_name(word, names)
                << "'?\ncommands: " << all << " (anvil --help lists them)\n";
      return 2;
    }
    break;
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
  } catch (...) {
    return cli::report_exception(std::current_exception(), std::cerr, cli::command_line(argc, argv));
  }
}
