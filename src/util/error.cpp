#include "util/error.h"

#include <filesystem>

namespace rnnmft {

std::string absolute_path(const std::string& path) {
  std::error_code ec;
  auto p = std::filesystem::absolute(path, ec);
  if (ec) return path;
  return p.lexically_normal().string();
}

uint64_t existing_file_size(const std::string& path, const std::string& where) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) fail("{}: file not found", where);
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) fail("{}: cannot stat file ({})", where, ec.message());
  return size;
}

}  // namespace rnnmft
