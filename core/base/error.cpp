#include "core/base/error.h"

namespace anvil::detail {

void assert_fail(const char* expr, const char* file, int line, const std::string& msg) {
  throw std::logic_error(concat("internal error: ", expr, " failed at ", file, ":", line,
                                msg.empty() ? "" : ": ", msg));
}

}  // namespace anvil::detail
