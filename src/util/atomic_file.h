// Files that are either whole or absent: writes go to a temporary beside the target and are
// renamed over it; appended lines go out in one write() and reach the disk before the call
// returns (a crash leaves at most an incomplete last line, which readers drop).
#pragma once

#include <string>

namespace rnnmft {

// Replaces `path` with `text`: checked writes to `path`.tmp.<pid>, fsync, rename, fsync of the
// directory. Throws rnnmft::Error naming the path on failure, leaving any previous `path` intact.
void write_file_atomic(const std::string& path, const std::string& text);

// Appends `line` + '\n' to `path` (created if missing) in a single write, then fsyncs.
void append_line(const std::string& path, const std::string& line);

// An exclusive advisory lock on `path` (created if missing), held until destruction: processes
// that would compute the same thing take turns.
class FileLock {
 public:
  explicit FileLock(const std::string& path);
  // Non-blocking: held() is false when another process holds the lock.
  FileLock(const std::string& path, bool wait);
  bool held() const { return held_; }
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
  bool held_ = false;
};

// Drops an incomplete last line (no trailing newline) left by a crash; returns whether it did.
bool drop_partial_last_line(const std::string& path);

}  // namespace rnnmft
