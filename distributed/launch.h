// Launch detection: which process of how many this is, read from the launcher's environment.
//
// Three launchers are understood:
//   OpenMPI (mpirun/mpiexec)   OMPI_COMM_WORLD_RANK, OMPI_COMM_WORLD_SIZE, OMPI_COMM_WORLD_LOCAL_RANK
//   torchrun-style             RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT
//   Slurm (srun)               SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID
// Precedence: OpenMPI, then torchrun, then Slurm. mpirun or torchrun started inside a Slurm
// allocation still sees the allocation's SLURM_* values (SLURM_PROCID is 0 in a batch script for
// every process mpirun starts), so Slurm's variables only decide when neither per-process launcher
// set its own. OpenMPI's and torchrun's variables, when both are present, must agree.
//
// Every inconsistency is an anvil::ConfigError naming the variables: a non-integer or negative
// value, a rank or local rank outside [0, world size), a rank without its world size (or the
// reverse), OpenMPI and torchrun disagreeing, a torchrun world larger than 1 without MASTER_ADDR
// and MASTER_PORT, or a port outside 1..65535.
//
// The parser takes the environment as a map, so tests need not touch the real one.
#pragma once

#include <map>
#include <string>

namespace anvil::distributed {

using EnvMap = std::map<std::string, std::string>;

struct LaunchInfo {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string launcher = "none";  // none | openmpi | torchrun | slurm
  std::string master_addr;        // torchrun-style only
  int master_port = 0;            // torchrun-style only; 0 when not given
  bool operator==(const LaunchInfo&) const = default;
};

// Reads the launch from an environment map. Throws anvil::ConfigError (see above).
LaunchInfo detect_launch(const EnvMap& env);

// The process's own environment, restricted to the variables detect_launch() reads.
EnvMap launch_environment();

}  // namespace anvil::distributed
