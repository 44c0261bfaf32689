#include "distributed/launch.h"

#include <cstdlib>
#include <optional>

#include "core/base/error.h"

namespace anvil::distributed {

namespace {

const char* const kVariables[] = {
    "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
    "RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT",
    "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"};

std::optional<std::string> get(const EnvMap& env, const std::string& key) {
  auto it = env.find(key);
  if (it == env.end()) return std::nullopt;
  return it->second;
}

// A non-negative integer variable, or nullopt when absent.
std::optional<int> int_var(const EnvMap& env, const std::string& key) {
  auto v = get(env, key);
  if (!v) return std::nullopt;
  const std::string& s = *v;
  bool ok = !s.empty() && s.size() <= 9;
  for (char ch : s) ok = ok && ch >= '0' && ch <= '9';
  ANVIL_CHECK_AS(ConfigError, ok, "launch environment: ", key, "='", s, "' is not a non-negative integer");
  return std::stoi(s);
}

struct Source {
  std::string launcher;
  std::string rank_var, size_var, local_var;
  std::optional<int> rank, size, local;
  bool present() const { return rank || size || local; }
};

Source read_source(const EnvMap& env, std::string launcher, std::string rank_var, std::string size_var,
                   std::string local_var) {
  Source s{std::move(launcher), std::move(rank_var), std::move(size_var), std::move(local_var), {}, {}, {}};
  s.rank = int_var(env, s.rank_var);
  s.size = int_var(env, s.size_var);
  s.local = int_var(env, s.local_var);
  return s;
}

// A present source must name both rank and size, consistently.
void check_source(const Source& s) {
  if (!s.present()) return;
  ANVIL_CHECK_AS(ConfigError, s.rank && s.size, "launch environment (", s.launcher, "): ",
                 s.rank ? s.rank_var : s.size_var, " is set but ", s.rank ? s.size_var : s.rank_var,
                 " is not; set both or neither");
  ANVIL_CHECK_AS(ConfigError, *s.size >= 1, "launch environment (", s.launcher, "): ", s.size_var,
                 " must be at least 1, got ", *s.size);
  ANVIL_CHECK_AS(ConfigError, *s.rank < *s.size, "launch environment (", s.launcher, "): ", s.rank_var, "=",
                 *s.rank, " is not below ", s.size_var, "=", *s.size);
  if (s.local)
    ANVIL_CHECK_AS(ConfigError, *s.local < *s.size, "launch environment (", s.launcher, "): ", s.local_var, "=",
                   *s.local, " is not below ", s.size_var, "=", *s.size);
}

void check_agree(const Source& a, const Source& b) {
  if (!a.present() || !b.present()) return;
  ANVIL_CHECK_AS(ConfigError, *a.rank == *b.rank && *a.size == *b.size && (!a.local || !b.local || *a.local == *b.local),
                 "launch environment: ", a.launcher, " and ", b.launcher, " variables disagree: ", a.rank_var, "=",
                 *a.rank, " ", a.size_var, "=", *a.size, " but ", b.rank_var, "=", *b.rank, " ", b.size_var, "=",
                 *b.size, "; unset the stale ones");
}

}  // namespace

LaunchInfo detect_launch(const EnvMap& env) {
  Source ompi = read_source(env, "openmpi", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK");
  Source torch = read_source(env, "torchrun", "RANK", "WORLD_SIZE", "LOCAL_RANK");
  Source slurm = read_source(env, "slurm", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID");
  check_source(ompi);
  check_source(torch);
  check_source(slurm);
  check_agree(ompi, torch);

  const Source* chosen = ompi.present() ? &ompi : torch.present() ? &torch : slurm.present() ? &slurm : nullptr;
  LaunchInfo info;
  if (!chosen) return info;
  info.launcher = chosen->launcher;
  info.rank = *chosen->rank;
  info.world_size = *chosen->size;
  // Without a local rank (a hand-made environment), assume one process per node.
  info.local_rank = chosen->local.value_or(0);

  if (auto addr = get(env, "MASTER_ADDR")) info.master_addr = *addr;
  if (auto port = int_var(env, "MASTER_PORT")) {
    ANVIL_CHECK_AS(ConfigError, *port >= 1 && *port <= 65535, "launch environment: MASTER_PORT=", *port,
                   " is not a TCP port (1..65535)");
    info.master_port = *port;
  }
  if (chosen == &torch && info.world_size > 1) {
    ANVIL_CHECK_AS(ConfigError, !info.master_addr.empty() && info.master_port != 0,
                   "launch environment (torchrun): WORLD_SIZE=", info.world_size,
                   " needs MASTER_ADDR and MASTER_PORT for the rendezvous; ",
                   info.master_addr.empty() ? "MASTER_ADDR" : "MASTER_PORT", " is not set");
  }
  return info;
}

EnvMap launch_environment() {
  EnvMap env;
  for (const char* name : kVariables)
    if (const char* v = std::getenv(name)) env[name] = v;
  return env;
}

}  // namespace anvil::distributed
