// The TCP rendezvous on loopback, with each rank a thread: the payload reaches every rank; a
// missing rank, an unreachable rank 0, a world-size mismatch and a duplicate rank are errors that
// say which rank, within the timeout.
#include "distributed/rendezvous.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <exception>
#include <thread>

#include "core/base/error.h"

namespace anvil::distributed {
namespace {

// A port nobody listens on right now (bound to 0, read back, released).
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

LaunchInfo launch(int rank, int world, int port) {
  LaunchInfo l;
  l.rank = rank;
  l.world_size = world;
  l.launcher = "torchrun";
  l.master_addr = "127.0.0.1";
  l.master_port = port;
  return l;
}

struct Outcome {
  std::vector<uint8_t> got;
  std::string error;  // what() of the exception, if any
  bool config_error = false;
};

// Runs the given ranks of a world concurrently, each with its own LaunchInfo.
std::vector<Outcome> run_ranks(const std::vector<LaunchInfo>& ranks, const std::vector<uint8_t>& payload,
                               int64_t timeout_s) {
  std::vector<Outcome> out(ranks.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < ranks.size(); ++i) {
    threads.emplace_back([&, i] {
      try {
        out[i].got = tcp_rendezvous(ranks[i], ranks[i].rank == 0 ? payload : std::vector<uint8_t>{}, timeout_s);
      } catch (const ConfigError& e) {
        out[i].error = e.what();
        out[i].config_error = true;
      } catch (const std::exception& e) {
        out[i].error = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  return out;
}

TEST(Rendezvous, EveryRankGetsRankZerosPayload) {
  const int port = free_port();
  std::vector<uint8_t> id(128);
  for (size_t i = 0; i < id.size(); ++i) id[i] = uint8_t(i * 7 + 3);
  // Clients first: they must retry until rank 0 listens.
  std::vector<LaunchInfo> ranks = {launch(3, 4, port), launch(1, 4, port), launch(2, 4, port), launch(0, 4, port)};
  auto out = run_ranks(ranks, id, 10);
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].error, "") << "rank " << ranks[i].rank;
    EXPECT_EQ(out[i].got, id) << "rank " << ranks[i].rank;
  }
}

TEST(Rendezvous, OneRankNeedsNoNetwork) {
  LaunchInfo one;
  EXPECT_EQ(tcp_rendezvous(one, {1, 2, 3}, 1), (std::vector<uint8_t>{1, 2, 3}));
}

TEST(Rendezvous, AMissingRankIsNamedByRankZeroWithinTheTimeout) {
  const int port = free_port();
  const auto t0 = std::chrono::steady_clock::now();
  auto out = run_ranks({launch(0, 4, port), launch(1, 4, port), launch(3, 4, port)}, {9}, 2);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(secs, 8.0);
  EXPECT_NE(out[0].error.find("ranks 2 did not reach the rendezvous on port " + std::to_string(port) + " within 2 s"),
            std::string::npos)
      << out[0].error;
  // The ranks that came are told rather than left waiting.
  EXPECT_NE(out[1].error.find("rank 0 gave up waiting for ranks 2"), std::string::npos) << out[1].error;
  EXPECT_NE(out[2].error.find("rank 0 gave up waiting for ranks 2"), std::string::npos) << out[2].error;
}

TEST(Rendezvous, AnUnreachableRankZeroIsAnErrorWithinTheTimeout) {
  const int port = free_port();
  const auto t0 = std::chrono::steady_clock::now();
  auto out = run_ranks({launch(1, 2, port)}, {}, 1);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(secs, 5.0);
  EXPECT_NE(out[0].error.find("rank 1 could not reach rank 0 at 127.0.0.1:" + std::to_string(port) + " within 1 s"),
            std::string::npos)
      << out[0].error;
}

TEST(Rendezvous, AWorldSizeMismatchIsAConfigErrorOnBothSides) {
  const int port = free_port();
  auto out = run_ranks({launch(0, 2, port), launch(1, 3, port)}, {1}, 5);
  EXPECT_TRUE(out[0].config_error) << out[0].error;
  EXPECT_NE(out[0].error.find("rank 1 has WORLD_SIZE=3 but rank 0 has 2"), std::string::npos) << out[0].error;
  EXPECT_TRUE(out[1].config_error) << out[1].error;
  EXPECT_NE(out[1].error.find("rank 1 has WORLD_SIZE=3 but rank 0 has 2"), std::string::npos) << out[1].error;
}

TEST(Rendezvous, TwoProcessesWithTheSameRankAreAConfigError) {
  const int port = free_port();
  auto out = run_ranks({launch(0, 3, port), launch(1, 3, port), launch(1, 3, port)}, {1}, 5);
  EXPECT_TRUE(out[0].config_error) << out[0].error;
  EXPECT_NE(out[0].error.find("two processes say they are rank 1"), std::string::npos) << out[0].error;
}

}  // namespace
}  // namespace anvil::distributed
