#include "util/atomic_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "util/error.h"

namespace rnnmft {

void write_file_atomic(const std::string& path, const std::string& text) {
  // Per process: writers of the same file (runs sharing a cache entry) never share a temporary.
  const std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  // Named by the path asked for: the temporary beside it is this function's business.
  if (fd < 0) fail("{}: cannot write ({})", absolute_path(path), std::strerror(errno));
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      std::error_code rm;
      std::filesystem::remove(tmp, rm);
      fail("{}: write failed ({}); the previous file, if any, is untouched", absolute_path(path),
           n < 0 ? std::strerror(err) : "no progress");
    }
    done += size_t(n);
  }
  // On disk before the rename makes it visible: a crash leaves the old file or the new one.
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) {
    std::error_code rm;
    std::filesystem::remove(tmp, rm);
    fail("{}: fsync failed; the previous file, if any, is untouched", absolute_path(path));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::error_code rm;
    std::filesystem::remove(tmp, rm);
    fail("{}: cannot replace ({})", absolute_path(path), ec.message());
  }
  const std::string dir = std::filesystem::path(absolute_path(path)).parent_path().string();
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
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

FileLock::FileLock(const std::string& path) : FileLock(path, true) {}

FileLock::FileLock(const std::string& path, bool wait) {
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) fail("{}: cannot open the lock file ({})", absolute_path(path), std::strerror(errno));
  while (::flock(fd_, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0) {
    if (errno == EINTR) continue;
    if (!wait && errno == EWOULDBLOCK) return;
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    fail("{}: cannot lock ({})", absolute_path(path), std::strerror(err));
  }
  held_ = true;
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the lock
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
