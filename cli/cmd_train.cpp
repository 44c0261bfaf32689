// anvil train CONFIG [key.sub=value ...]: trains a model as the YAML config says.
#include <iostream>

#include "cli/command.h"
#include "train/trainer.h"

namespace {

struct TrainArgs {
  std::string config;
  std::vector<std::string> overrides;
};

anvil::cli::Command reg("train", "Train a model from a YAML config (overrides: key.sub=value)", [](CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  app.add_option("config", args->config, "YAML config file, e.g. configs/tiny.yaml")->required();
  app.add_option("overrides", args->overrides, "key.sub=value overrides applied after the file");
  app.footer("Example: anvil train configs/tiny.yaml training.max_steps=100 optimizer.lr=3e-4");
  return [args] {
    anvil::train::Config cfg = anvil::train::load_config(args->config, args->overrides);
    anvil::train::TrainSummary s = anvil::train::train(cfg);
    if (s.rank != 0) return 0;  // data-parallel runs: rank 0 reports
    if (s.already_complete) {
      std::cout << "run " << cfg.run.name << " is already complete at step " << s.steps_done << " ("
                << s.complete_checkpoint << "); nothing was trained or written.\n"
                << "To train further, raise training.max_steps (e.g. training.max_steps=" << 2 * s.steps_done
                << "); to start over, delete " << cfg.run.output_dir << " or set another run.output_dir.\n";
      return 0;
    }
    std::cout << "trained " << cfg.run.name << " to step " << s.steps_done << ": train loss " << s.last_train_loss;
    if (s.last_val_loss >= 0) std::cout << ", val loss " << s.last_val_loss;
    std::cout << "\ncheckpoints and metrics are in " << cfg.run.output_dir << "\n";
    for (size_t i = 0; i < s.samples.size(); ++i)
      std::cout << "\n--- sample " << i + 1 << " ---\n" << s.samples[i] << "\n";
    return 0;
  };
});

}  // namespace
