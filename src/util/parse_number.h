// Whole-string number parsing for values read from files (checkpoint metadata, JSON fields):
// "12abc", "1e3" for an integer, or a value beyond the target type is an error that names where
// it came from, never a silent truncation.
#pragma once

#include <charconv>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>

#include "util/error.h"

namespace rnnmft {

// The whole of s as a T (int64_t or double), or an Error naming `where`.
template <typename T>
T parse_strict(const std::string& s, const std::string& where) {
  T v{};
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty())
    fail("{}: '{}' is not {}", where, s, std::is_integral_v<T> ? "an integer" : "a number");
  return v;
}
inline int64_t parse_int64_strict(const std::string& s, const std::string& where) {
  return parse_strict<int64_t>(s, where);
}
inline double parse_double_strict(const std::string& s, const std::string& where) {
  return parse_strict<double>(s, where);
}

// A JSON-read 64-bit integer that must fit an int.
inline int narrow_int(int64_t v, const std::string& where) {
  if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max())
    fail("{}: {} is out of range", where, v);
  return int(v);
}

}  // namespace rnnmft
