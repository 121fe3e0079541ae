// JSON nesting is bounded before parsing (util/json_read.h), so that a file of nested brackets
// is an error naming the depth, not a stack overflow, in every reader.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "../data/temp_dir.h"
#include "spec/init_spec.h"
#include "train/safetensors.h"
#include "util/json_read.h"

namespace rnnmft {
namespace {

std::string nested(int depth) {
  return std::string(size_t(depth), '[') + std::string(size_t(depth), ']');
}

TEST(JsonRead, DepthBoundedAtSixtyFour) {
  EXPECT_EQ(parse_json(nested(64)).dump(), nested(64));
  try {
    parse_json(nested(65));
    FAIL() << "65 levels accepted";
  } catch (const nlohmann::json::parse_error& e) {
    EXPECT_NE(std::string(e.what()).find("nested deeper than 64 levels"), std::string::npos)
        << e.what();
    EXPECT_EQ(e.byte, 65u);
  }
  // Brackets inside strings, escaped quotes included, are not nesting.
  const std::string s =
      "{\"a\": \"" + std::string(200, '[') + "\\\"" + std::string(200, '{') + "\"}";
  EXPECT_EQ(parse_json(s)["a"].get<std::string>().size(), 401u);
  // 100 000 levels: refused, for a stream and for ordered_json too.
  std::istringstream in("{\"x\": " + nested(100000) + "}");
  EXPECT_THROW(parse_json(in), nlohmann::json::parse_error);
  EXPECT_THROW(parse_json<nlohmann::ordered_json>(nested(100000)), nlohmann::json::parse_error);
  // Syntax errors are still the parser's.
  EXPECT_THROW(parse_json(std::string("[1, 2")), nlohmann::json::parse_error);
}

TEST(JsonRead, InitSpecFileNamesTheFileAndTheDepth) {
  testing::TempDir t;
  std::ofstream(t.file("deep.json")) << "{\"cell\": \"lstm\", \"gates\": " << nested(100000) << "}";
  try {
    load_spec_file(t.file("deep.json"));
    FAIL() << "accepted";
  } catch (const Error& e) {
    const std::string w = e.what();
    EXPECT_NE(w.find("deep.json"), std::string::npos) << w;
    EXPECT_NE(w.find("nested deeper than 64 levels"), std::string::npos) << w;
  }
}

TEST(JsonRead, SafetensorsHeaderNamesTheFileAndTheDepth) {
  testing::TempDir t;
  std::string h = "{\"a\": " + nested(5000) + "}";
  while (h.size() % 8) h += ' ';
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[size_t(i)] = char((h.size() >> (8 * i)) & 0xff);
  std::ofstream(t.file("deep.safetensors"), std::ios::binary) << bytes << h;
  try {
    read_safetensors(t.file("deep.safetensors"));
    FAIL() << "accepted";
  } catch (const Error& e) {
    const std::string w = e.what();
    EXPECT_NE(w.find("deep.safetensors"), std::string::npos) << w;
    EXPECT_NE(w.find("nested deeper than 64 levels"), std::string::npos) << w;
  }
}

}  // namespace
}  // namespace rnnmft
