#include "core/base/fs.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "core/base/error.h"

namespace anvil {

namespace {
std::string errno_text() { return std::strerror(errno); }
}  // namespace

void fsync_dir(const std::filesystem::path& dir) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

void write_file_atomic(const std::filesystem::path& path, std::string_view bytes) {
  write_file_atomic(path, {bytes});
}

void write_file_atomic(const std::filesystem::path& path, std::initializer_list<std::string_view> parts) {
  std::filesystem::path dir = path.parent_path();
  if (!dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw RuntimeFailure(detail::concat("cannot create folder ", dir.string(), ": ", ec.message()));
  }
  // A random suffix: two writers of the same file never share a temp file.
  std::random_device rd;
  std::filesystem::path tmp = path;
  tmp += ".tmp-" + std::to_string(rd());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw RuntimeFailure(detail::concat("cannot write ", path.string(), ": ", errno_text()));
  auto fail = [&](const std::string& why, bool close_fd) {
    if (close_fd) ::close(fd);
    ::unlink(tmp.c_str());
    throw RuntimeFailure(detail::concat("writing ", path.string(), " failed: ", why,
                                        "; the previous file (if any) is unchanged"));
  };
  for (std::string_view part : parts) {
    const char* p = part.data();
    size_t left = part.size();
    while (left > 0) {
      ssize_t w = ::write(fd, p, left);
      if (w < 0) {
        if (errno == EINTR) continue;
        fail(errno_text(), true);
      }
      p += w;
      left -= size_t(w);
    }
  }
  if (::fsync(fd) != 0) fail(errno_text(), true);
  if (::close(fd) != 0) fail(errno_text(), false);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string why = errno_text();
    ::unlink(tmp.c_str());
    throw RuntimeFailure(detail::concat("cannot move ", tmp.string(), " to ", path.string(), ": ", why));
  }
  fsync_dir(dir);
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(detail::concat("cannot read ", path.string(), ": ", std::strerror(errno)));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace anvil
