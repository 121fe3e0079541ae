// Reading JSON from files and from users with its nesting bounded. nlohmann's parser, and every
// recursive walk over what it returns (dump, comparisons, the spec readers), use one stack frame
// or more per level: a 200 KB file of 100 000 nested brackets overflows the stack. Every reader
// of JSON it did not build itself parses through parse_json, which refuses more than
// kMaxJsonDepth levels before parsing.
//
// The refusal is a nlohmann::json::parse_error ("… parse error at byte K: JSON nested deeper
// than 64 levels …"), so that each caller handles it as it handles a syntax error: naming its
// file, or dropping a torn line where it drops them.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <istream>
#include <iterator>
#include <string>
#include <string_view>

namespace rnnmft {

// Deeper than anything rnnmft writes or reads (a sweep spec's base is 4 levels deep).
inline constexpr int kMaxJsonDepth = 64;

// Throws nlohmann::json::parse_error when arrays and objects in `text` nest deeper than
// `max_depth`; otherwise does nothing (syntax is left to the parser).
inline void check_json_depth(std::string_view text, int max_depth = kMaxJsonDepth) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth)
        throw nlohmann::json::parse_error::create(
            101, i + 1,
            "JSON nested deeper than " + std::to_string(max_depth) +
                " levels (arrays and objects); rnnmft reads at most " +
                std::to_string(max_depth),
            nullptr);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
}

// J::parse(text) after check_json_depth (J: nlohmann::json or nlohmann::ordered_json).
template <typename J = nlohmann::json>
J parse_json(std::string_view text, int max_depth = kMaxJsonDepth) {
  check_json_depth(text, max_depth);
  return J::parse(text);
}

// The same for a whole stream (a file opened by the caller).
template <typename J = nlohmann::json>
J parse_json(std::istream& in, int max_depth = kMaxJsonDepth) {
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse_json<J>(std::string_view(text), max_depth);
}

// Also for a std::string (or a const char*), which would otherwise be ambiguous.
template <typename J = nlohmann::json>
J parse_json(const std::string& text, int max_depth = kMaxJsonDepth) {
  return parse_json<J>(std::string_view(text), max_depth);
}

}  // namespace rnnmft
