#include "util/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "util/error.h"

namespace rnnmft {

void write_file_atomic(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail("{}: cannot write ({})", absolute_path(tmp), std::strerror(errno));
    out << text;
    out.flush();
    if (!out) fail("{}: write failed", absolute_path(tmp));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) fail("{}: cannot replace ({})", absolute_path(path), ec.message());
}

void append_line(const std::string& path, const std::string& line) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) fail("{}: cannot open for appending ({})", absolute_path(path), std::strerror(errno));
  const std::string buf = line + "\n";
  const ssize_t n = ::write(fd, buf.data(), buf.size());
  const int err = errno;
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (n != ssize_t(buf.size()))
    fail("{}: append failed ({})", absolute_path(path),
         n < 0 ? std::strerror(err) : "short write");
  if (!synced) fail("{}: fsync failed", absolute_path(path));
}

bool drop_partial_last_line(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec || size == 0) return false;
  std::ifstream in(path, std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (all.back() == '\n') return false;
  const auto keep = all.rfind('\n');
  std::filesystem::resize_file(path, keep == std::string::npos ? 0 : keep + 1, ec);
  if (ec) fail("{}: cannot drop an incomplete last line ({})", absolute_path(path), ec.message());
  return true;
}

}  // namespace rnnmft
