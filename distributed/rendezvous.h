// A small TCP rendezvous for torchrun-style launches (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT):
// rank 0 hands a few bytes (e.g. the NCCL unique id) to every other rank.
//
// Rank 0 listens on MASTER_PORT (all IPv4 interfaces); every other rank connects to
// MASTER_ADDR:MASTER_PORT, retrying while rank 0 is not up yet, and says who it is (rank and world
// size). Rank 0 waits until every rank has checked in, then sends each the payload. Everything is
// bounded by timeout_s:
//   rank 0:  "ranks 2, 3 did not reach the rendezvous on port P within N s"
//   others:  "could not reach rank 0 at HOST:P within N s" (then up to 5 s more for rank 0's answer,
//            which it sends by its own deadline: the payload, or which ranks it gave up on)
// A rank that reports another world size, or a rank already seen, is an anvil::ConfigError on
// rank 0 and is told so (that rank then fails with the same message); other failures are
// anvil::RuntimeFailure.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "distributed/launch.h"

namespace anvil::distributed {

// Returns rank 0's payload on every rank (on rank 0, `payload` itself; other ranks ignore theirs).
// Needs launch.master_addr and launch.master_port when world_size > 1.
std::vector<uint8_t> tcp_rendezvous(const LaunchInfo& launch, const std::vector<uint8_t>& payload,
                                    int64_t timeout_s);

}  // namespace anvil::distributed
