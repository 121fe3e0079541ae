// Shared by the fuzz targets: the input bytes go to a file (the readers take paths) in a
// per-process directory under /dev/shm (or $TMPDIR), removed at exit.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace fuzz {

inline const std::string& work_dir() {
  static const std::string dir = [] {
    namespace fs = std::filesystem;
    const char* tmp = std::getenv("TMPDIR");
    fs::path base = fs::is_directory("/dev/shm") ? fs::path("/dev/shm")
                                                 : fs::path(tmp && *tmp ? tmp : "/tmp");
    fs::path d = base / ("rnnmft-fuzz-" + std::to_string(getpid()));
    fs::create_directories(d);
    static const std::string keep = d.string();
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(keep, ec);
    });
    return d.string();
  }();
  return dir;
}

// Writes the input to `name` inside the work directory and returns its path.
inline std::string write_input(const uint8_t* data, size_t size, const std::string& name) {
  const std::string path = work_dir() + "/" + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || (size && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) std::abort();
  return path;
}

}  // namespace fuzz
