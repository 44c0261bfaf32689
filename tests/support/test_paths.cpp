#include "tests/support/test_paths.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>

namespace anvil::test {

namespace {
// The build's paths, unless the environment names others: a GPU bundle (tools/gpu-bundle.sh) runs
// the tests on another machine, where the tree and the binary live elsewhere.
std::filesystem::path from_env_or(const char* name, const char* built_in) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::filesystem::path(v) : std::filesystem::path(built_in);
}
}  // namespace

std::filesystem::path source_dir() { return from_env_or("ANVIL_SOURCE_DIR", ANVIL_SOURCE_DIR); }
std::filesystem::path shared_dir() { return from_env_or("ANVIL_SHARED_DIR", ANVIL_SHARED_DIR); }
std::filesystem::path anvil_binary() { return from_env_or("ANVIL_BINARY", ANVIL_BINARY); }

std::filesystem::path scratch_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "scratch";
  for (char& c : name)
    if (c == '/') c = '_';
  auto dir = std::filesystem::current_path() / "scratch" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

CommandResult run_command(const std::string& cmd) {
  CommandResult r;
  FILE* pipe = popen((cmd + " 2>&1").c_str(), "r");
  if (!pipe) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) r.output.append(buf.data(), n);
  int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string mpiexec_command(int np) {
  return std::string("OMP_NUM_THREADS=1 timeout 120 mpiexec --oversubscribe ") +
         (::geteuid() == 0 ? "--allow-run-as-root " : "") + "-np " + std::to_string(np) + " ";
}

}  // namespace anvil::test
