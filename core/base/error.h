// Typed errors and check macros, the floor every layer stands on.
//
// Three kinds of failure, mapped to exit codes by cli/ alone (no exit() below cli/):
//   InputError  (exit 2): the user's input is wrong: config, data shard, checkpoint, tokenizer
//                         file, CLI flag. The message names the file, key or line and what was
//                         expected. Subclasses say which kind of input.
//   RuntimeFailure (exit 1): the input was fine but running failed (disk full, CUDA error).
//   InternalError (exit 1): a bug in anvil: an op got arguments its caller inside the library
//                         should never pass (OpError), or an invariant broke (ANVIL_ASSERT). The
//                         CLI says "internal error" and asks for a report. Code that checks the
//                         user's input must throw an InputError before an op can see it.
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
// A bug in anvil, not in the user's input. Derives from std::logic_error (what the standard
// library uses for broken preconditions); not an InputError, so it never exits 2.
class InternalError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};
// A caller inside the library passed tensors of the wrong shape, dtype or device to an op (an op
// contract violation: a bug, since user input is checked before it reaches an op).
class OpError : public InternalError {
 public:
  using InternalError::InternalError;
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

// Internal invariant, always on: throws InternalError naming the expression and place.
#define ANVIL_ASSERT(cond, ...)                                                          \
  do {                                                                                   \
    if (!(cond))                                                                         \
      ::anvil::detail::assert_fail(#cond, __FILE__, __LINE__,                            \
                                   ::anvil::detail::concat("" __VA_OPT__(, ) __VA_ARGS__)); \
  } while (0)
