// One error type for everything a user can get wrong (files, flags, specs): the CLI prints its
// message and exits non-zero; nothing in the library aborts on bad input.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace rnnmft {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) {
  throw Error(fmt::format(f, std::forward<Args>(args)...));
}

// Absolute, normalised form of a path for messages and reports.
std::string absolute_path(const std::string& path);

// Size of a regular file; throws "<where>: file not found" or "cannot stat" otherwise.
uint64_t existing_file_size(const std::string& path, const std::string& where);

}  // namespace rnnmft
