// Small text helpers shared by the layers that suggest corrections to what a user typed (unknown
// config keys, unknown commands).
#pragma once

#include <cstdint>
#include <string_view>

namespace anvil {

// Levenshtein distance: insertions, deletions and substitutions each cost 1.
int64_t edit_distance(std::string_view a, std::string_view b);

}  // namespace anvil
