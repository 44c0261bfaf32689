#include "core/base/error.h"

namespace anvil::detail {

void assert_fail(const char* expr, const char* file, int line, const std::string& msg) {
  throw InternalError(concat(expr, " failed at ", file, ":", line,
                             msg.empty() ? "" : ": ", msg));
}

}  // namespace anvil::detail
