// Atomic file writes: write to a temp file in the same folder, fsync, rename over the target, so a
// crash or a full disk never leaves a half-written file where a good one was.
#pragma once

#include <filesystem>
#include <initializer_list>
#include <string>
#include <string_view>

namespace anvil {

// Throws RuntimeFailure naming the path (and errno text) when any step fails; the target is
// untouched then and the temp file removed.
// Creates the parent folder when missing. The parts overload writes their concatenation (a header
// and a body without joining them in memory first).
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);
void write_file_atomic(const std::filesystem::path& path, std::initializer_list<std::string_view> parts);
// fsyncs a directory so that a rename inside it is durable.
void fsync_dir(const std::filesystem::path& dir);
// Reads a whole file; throws InputError naming the path when it cannot be read.
std::string read_file(const std::filesystem::path& path);

}  // namespace anvil
