// Benchmark of the byte-level BPE tokenizer on one core: GPT-2 encode (cold cache and warm),
// decode, and training a 4096-token vocabulary. Times are this thread's CPU time, so the numbers
// hold on a busy shared machine too.
//
//   build/bin/bpe_bench [GPT2_TOKENIZER_DIR] [TEXT_FILE]
// Without TEXT_FILE the text is ~4 MB of English prose and legal text found on any Debian system
// (fortunes and /usr/share/doc/*/copyright), so runs on different machines are comparable.
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "data/bpe/tokenizer.h"

namespace {

namespace fs = std::filesystem;

constexpr size_t kTextBytes = size_t{4} << 20;
constexpr int64_t kTrainVocab = 4096;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string default_text() {
  std::vector<fs::path> files;
  for (const char* name : {"fortunes", "literature", "riddles"})
    files.push_back(fs::path("/usr/share/games/fortunes") / name);
  std::vector<fs::path> copyrights;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/share/doc", ec))
    copyrights.push_back(entry.path() / "copyright");
  std::sort(copyrights.begin(), copyrights.end());
  files.insert(files.end(), copyrights.begin(), copyrights.end());
  std::string text;
  for (const fs::path& f : files) {
    if (text.size() >= kTextBytes) break;
    if (fs::is_regular_file(f, ec)) text += read_file(f);
  }
  if (text.empty()) text = "The quick brown fox jumps over the lazy dog. ";
  while (text.size() < kTextBytes) text += text.substr(0, kTextBytes - text.size());
  return text.substr(0, kTextBytes);
}

// CPU time of this thread: on a shared, busy machine it measures the work, not the waiting.
double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}
double seconds_since(double start) { return thread_cpu_seconds() - start; }

}  // namespace

int run(int argc, char** argv) {
  fs::path tokenizer_dir = argc > 1 ? fs::path(argv[1])
                                    : fs::path(__FILE__).parent_path().parent_path().parent_path() /
                                          "shared" / "data" / "gpt2-tokenizer";
  std::string text = argc > 2 ? read_file(argv[2]) : default_text();
  const double mb = static_cast<double>(text.size()) / 1e6;
  std::printf("text: %.2f MB\n", mb);

  double t0 = thread_cpu_seconds();
  anvil::data::BpeTokenizer gpt2 = anvil::data::BpeTokenizer::load(tokenizer_dir);
  std::printf("load GPT-2 tokenizer:     %8.1f ms\n", 1e3 * seconds_since(t0));

  t0 = thread_cpu_seconds();
  std::vector<uint32_t> ids = gpt2.encode(text);
  double cold = seconds_since(t0);
  t0 = thread_cpu_seconds();
  std::vector<uint32_t> again = gpt2.encode(text);
  double warm = seconds_since(t0);
  t0 = thread_cpu_seconds();
  std::string decoded = gpt2.decode(ids);
  double decode = seconds_since(t0);
  std::printf("encode (cold cache):      %8.1f MB/s  (%zu tokens, %.2f bytes/token)\n", mb / cold,
              ids.size(), static_cast<double>(text.size()) / static_cast<double>(ids.size()));
  std::printf("encode (warm cache):      %8.1f MB/s\n", mb / warm);
  std::printf("decode:                   %8.1f MB/s\n", mb / decode);
  if (decoded != text || again != ids) {
    std::printf("ERROR: round trip mismatch\n");
    return 1;
  }

  t0 = thread_cpu_seconds();
  anvil::data::BpeTokenizer trained = anvil::data::BpeTokenizer::train(text, kTrainVocab);
  double train = seconds_since(t0);
  std::printf("train vocab %lld:          %8.2f s  (vocab %lld)\n",
              static_cast<long long>(kTrainVocab), train,
              static_cast<long long>(trained.vocab_size()));
  t0 = thread_cpu_seconds();
  std::vector<uint32_t> trained_ids = trained.encode(text);
  std::printf("encode with trained vocab: %7.1f MB/s  (%.2f bytes/token)\n",
              mb / seconds_since(t0),
              static_cast<double>(text.size()) / static_cast<double>(trained_ids.size()));
  return 0;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
}
