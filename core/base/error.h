// Typed errors and check macros, the floor every layer stands on.
//
// Two kinds of failure, mapped to exit codes by cli/ alone (no exit() below cli/):
//   InputError  (exit 2): the user's input is wrong: config, data shard, checkpoint, tokenizer
//                         file, CLI flag. The message names the file, key or line and what was
//                         expected. Subclasses say which kind of input.
//   RuntimeFailure (exit 1): the input was fine but running failed (disk full, CUDA error).
// Internal invariants use ANVIL_ASSERT, which is always on and reports expression and place.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace anvil {

class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
class ConfigError : public InputError {
 public:
  using InputError::InputError;
};
class DataError : public InputError {
 public:
  using InputError::InputError;
};
class CheckpointError : public InputError {
 public:
  using InputError::InputError;
};
// A caller passed tensors of the wrong shape, dtype or device to an op.
class OpError : public InputError {
 public:
  using InputError::InputError;
};
class RuntimeFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
[[noreturn]] void assert_fail(const char* expr, const char* file, int line, const std::string& msg);
}  // namespace detail

}  // namespace anvil

// Throws ErrorType with the streamed message when cond is false.
#define ANVIL_CHECK_AS(ErrorType, cond, ...)                          \
  do {                                                                \
    if (!(cond)) throw ErrorType(::anvil::detail::concat(__VA_ARGS__)); \
  } while (0)

// An op's argument check: the message should start with "[opname]" and print offending shapes.
#define ANVIL_CHECK_OP(cond, ...) ANVIL_CHECK_AS(::anvil::OpError, cond, __VA_ARGS__)

// Internal invariant, always on.
#define ANVIL_ASSERT(cond, ...)                                                          \
  do {                                                                                   \
    if (!(cond))                                                                         \
      ::anvil::detail::assert_fail(#cond, __FILE__, __LINE__,                            \
                                   ::anvil::detail::concat("" __VA_OPT__(, ) __VA_ARGS__)); \
  } while (0)
