#include "distributed/rendezvous.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "core/base/error.h"

namespace anvil::distributed {

namespace {

using Clock = std::chrono::steady_clock;
constexpr char kMagic[4] = {'A', 'N', 'V', 'R'};
enum Status : uint32_t { kOk = 0, kRefused = 1 };

// Closes a socket on scope exit.
struct Fd {
  int fd = -1;
  explicit Fd(int f = -1) : fd(f) {}
  Fd(Fd&& o) noexcept : fd(o.fd) { o.fd = -1; }
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd = o.fd;
      o.fd = -1;
    }
    return *this;
  }
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

int ms_left(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : int(std::min<int64_t>(left, 1 << 30));
}

// Reads exactly n bytes before the deadline; false on timeout or a closed connection.
bool read_exact(int fd, void* buf, size_t n, Clock::time_point deadline) {
  char* p = static_cast<char*>(buf);
  while (n > 0) {
    pollfd pfd{fd, POLLIN, 0};
    const int r = ::poll(&pfd, 1, ms_left(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    const ssize_t got = ::recv(fd, p, n, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    p += got;
    n -= size_t(got);
  }
  return true;
}

bool write_all(int fd, const void* buf, size_t n) {
  const char* p = static_cast<const char*>(buf);
  while (n > 0) {
    const ssize_t put = ::send(fd, p, n, MSG_NOSIGNAL);
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) return false;
    p += put;
    n -= size_t(put);
  }
  return true;
}

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  const uint32_t be = htonl(v);
  const size_t at = out.size();
  out.resize(at + 4);
  std::memcpy(out.data() + at, &be, 4);
}

uint32_t get_u32(const uint8_t* p) {
  uint32_t be;
  std::memcpy(&be, p, 4);
  return ntohl(be);
}

// Reply: magic, status, length, bytes (the payload, or the reason for a refusal).
std::vector<uint8_t> reply(Status status, const std::vector<uint8_t>& bytes) {
  std::vector<uint8_t> out(12 + bytes.size());
  std::memcpy(out.data(), kMagic, 4);
  const uint32_t st = htonl(status), len = htonl(uint32_t(bytes.size()));
  std::memcpy(out.data() + 4, &st, 4);
  std::memcpy(out.data() + 8, &len, 4);
  if (!bytes.empty()) std::memcpy(out.data() + 12, bytes.data(), bytes.size());
  return out;
}

std::vector<uint8_t> as_bytes(const std::string& s) { return {s.begin(), s.end()}; }

std::vector<uint8_t> serve(const LaunchInfo& launch, const std::vector<uint8_t>& payload, int64_t timeout_s) {
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  Fd listener(::socket(AF_INET, SOCK_STREAM, 0));
  ANVIL_CHECK_AS(RuntimeFailure, listener.fd >= 0, "rendezvous: socket: ", std::strerror(errno));
  const int one = 1;
  ::setsockopt(listener.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  addr.sin_port = htons(uint16_t(launch.master_port));
  ANVIL_CHECK_AS(RuntimeFailure, ::bind(listener.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0,
                 "rendezvous: rank 0 cannot listen on port ", launch.master_port, " (MASTER_PORT): ",
                 std::strerror(errno));
  ANVIL_CHECK_AS(RuntimeFailure, ::listen(listener.fd, 128) == 0, "rendezvous: listen: ", std::strerror(errno));

  std::vector<Fd> clients(size_t(launch.world_size));
  int joined = 0;
  std::string refusal;
  while (joined < launch.world_size - 1 && refusal.empty()) {
    pollfd pfd{listener.fd, POLLIN, 0};
    const int r = ::poll(&pfd, 1, ms_left(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      std::string missing;
      for (int k = 1; k < launch.world_size; ++k)
        if (clients[size_t(k)].fd < 0) missing += (missing.empty() ? "" : ", ") + std::to_string(k);
      const auto gave_up = reply(kRefused, as_bytes("rank 0 gave up waiting for ranks " + missing));
      for (auto& c : clients)
        if (c.fd >= 0) write_all(c.fd, gave_up.data(), gave_up.size());
      throw RuntimeFailure(detail::concat("rendezvous: ranks ", missing, " did not reach the rendezvous on port ",
                                          launch.master_port, " within ", timeout_s,
                                          " s (distributed.timeout_s); are they running, and can they reach "
                                          "MASTER_ADDR?"));
    }
    Fd c(::accept(listener.fd, nullptr, nullptr));
    if (c.fd < 0) continue;
    uint8_t hello[12];
    if (!read_exact(c.fd, hello, sizeof hello, deadline) || std::memcmp(hello, kMagic, 4) != 0) continue;  // not ours
    const uint32_t rank = get_u32(hello + 4), world = get_u32(hello + 8);
    if (int(world) != launch.world_size) {
      refusal = detail::concat("rank ", rank, " has WORLD_SIZE=", world, " but rank 0 has ", launch.world_size);
    } else if (rank == 0 || int(rank) >= launch.world_size) {
      refusal = detail::concat("a process says it is rank ", rank, " of ", world);
    } else if (clients[rank].fd >= 0) {
      refusal = detail::concat("two processes say they are rank ", rank);
    }
    if (!refusal.empty()) {
      const auto r2 = reply(kRefused, as_bytes(refusal));
      write_all(c.fd, r2.data(), r2.size());
      break;
    }
    clients[rank] = std::move(c);
    ++joined;
  }
  if (!refusal.empty()) {
    const auto r2 = reply(kRefused, as_bytes(refusal));
    for (auto& c : clients)
      if (c.fd >= 0) write_all(c.fd, r2.data(), r2.size());
    throw ConfigError("rendezvous: " + refusal);
  }
  const auto ok = reply(kOk, payload);
  for (int k = 1; k < launch.world_size; ++k)
    ANVIL_CHECK_AS(RuntimeFailure, write_all(clients[size_t(k)].fd, ok.data(), ok.size()),
                   "rendezvous: rank ", k, " disconnected before it got the payload");
  return payload;
}

// One connection attempt to host:port, bounded by the deadline; -1 on failure.
int try_connect(const addrinfo& ai, Clock::time_point deadline) {
  Fd s(::socket(ai.ai_family, ai.ai_socktype, ai.ai_protocol));
  if (s.fd < 0) return -1;
  const int flags = ::fcntl(s.fd, F_GETFL, 0);
  ::fcntl(s.fd, F_SETFL, flags | O_NONBLOCK);
  if (::connect(s.fd, ai.ai_addr, ai.ai_addrlen) != 0) {
    if (errno != EINPROGRESS) return -1;
    pollfd pfd{s.fd, POLLOUT, 0};
    if (::poll(&pfd, 1, std::min(ms_left(deadline), 1000)) <= 0) return -1;
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return -1;
  }
  ::fcntl(s.fd, F_SETFL, flags);
  const int fd = s.fd;
  s.fd = -1;
  return fd;
}

std::vector<uint8_t> join(const LaunchInfo& launch, int64_t timeout_s) {
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  const std::string where = launch.master_addr + ":" + std::to_string(launch.master_port);
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int gai = ::getaddrinfo(launch.master_addr.c_str(), std::to_string(launch.master_port).c_str(), &hints, &found);
  ANVIL_CHECK_AS(ConfigError, gai == 0 && found, "rendezvous: MASTER_ADDR '", launch.master_addr,
                 "' does not resolve: ", ::gai_strerror(gai));
  Fd s;
  while (s.fd < 0) {
    for (addrinfo* ai = found; ai && s.fd < 0; ai = ai->ai_next) s = Fd(try_connect(*ai, deadline));
    if (s.fd >= 0) break;
    if (ms_left(deadline) == 0) {
      ::freeaddrinfo(found);
      throw RuntimeFailure(detail::concat("rendezvous: rank ", launch.rank, " could not reach rank 0 at ", where,
                                          " within ", timeout_s, " s (distributed.timeout_s)"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // rank 0 may not listen yet
  }
  ::freeaddrinfo(found);
  std::vector<uint8_t> hello(4);
  std::memcpy(hello.data(), kMagic, 4);
  put_u32(hello, uint32_t(launch.rank));
  put_u32(hello, uint32_t(launch.world_size));
  ANVIL_CHECK_AS(RuntimeFailure, write_all(s.fd, hello.data(), hello.size()), "rendezvous: rank ", launch.rank,
                 " lost the connection to rank 0 at ", where);
  // Rank 0 answers by its own deadline, which is at most ours: a few seconds of grace let its
  // answer (the payload, or why it gave up) arrive instead of our own timeout message.
  const auto answer_deadline = deadline + std::chrono::seconds(5);
  uint8_t head[12];
  ANVIL_CHECK_AS(RuntimeFailure,
                 read_exact(s.fd, head, sizeof head, answer_deadline) && std::memcmp(head, kMagic, 4) == 0,
                 "rendezvous: rank ", launch.rank, " got no answer from rank 0 at ", where, " within ", timeout_s,
                 " s (distributed.timeout_s)");
  std::vector<uint8_t> body(get_u32(head + 8));
  ANVIL_CHECK_AS(RuntimeFailure, body.empty() || read_exact(s.fd, body.data(), body.size(), answer_deadline),
                 "rendezvous: rank ", launch.rank, " lost the connection to rank 0 at ", where);
  if (get_u32(head + 4) != kOk) throw ConfigError("rendezvous: " + std::string(body.begin(), body.end()));
  return body;
}

}  // namespace

std::vector<uint8_t> tcp_rendezvous(const LaunchInfo& launch, const std::vector<uint8_t>& payload,
                                    int64_t timeout_s) {
  if (launch.world_size <= 1) return payload;
  ANVIL_CHECK_AS(ConfigError, !launch.master_addr.empty() && launch.master_port > 0,
                 "rendezvous: needs MASTER_ADDR and MASTER_PORT");
  ANVIL_CHECK_AS(ConfigError, timeout_s > 0, "rendezvous: distributed.timeout_s must be positive");
  return launch.rank == 0 ? serve(launch, payload, timeout_s) : join(launch, timeout_s);
}

}  // namespace anvil::distributed
