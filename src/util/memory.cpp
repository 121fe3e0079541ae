#include "util/memory.h"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include "util/error.h"

namespace rnnmft {

uint64_t physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && size > 0 ? uint64_t(pages) * uint64_t(size) : 0;
}

uint64_t available_memory_bytes() {
  uint64_t have = physical_memory_bytes();
  {
    std::ifstream in("/proc/meminfo");
    std::string key, unit;
    uint64_t kb = 0;
    while (in >> key >> kb >> unit)
      if (key == "MemAvailable:") {
        have = kb * 1024;
        break;
      }
  }
  // A cgroup v2 limit (Slurm, containers) is what the kernel enforces: what is left under it.
  std::ifstream max_in("/sys/fs/cgroup/memory.max"), cur_in("/sys/fs/cgroup/memory.current");
  std::string max_s;
  uint64_t cur = 0;
  if (max_in >> max_s && max_s != "max" && cur_in >> cur) {
    const uint64_t limit = std::strtoull(max_s.c_str(), nullptr, 10);
    have = std::min(have, limit > cur ? limit - cur : 0);
  }
  return have;
}

void check_fits_available(uint64_t bytes, const std::string& what) {
  const uint64_t have = available_memory_bytes();
  if (have > 0 && double(bytes) > 0.9 * double(have))
    fail("{} needs {:.1f} GiB more memory; {:.1f} GiB are available on this machine", what,
         bytes / 1073741824.0, have / 1073741824.0);
}

void check_fits_memory(uint64_t bytes, const std::string& what) {
  const uint64_t have = physical_memory_bytes();
  if (have > 0 && double(bytes) > 0.9 * double(have))
    fail("{} needs {:.1f} GiB of memory; this machine has {:.1f} GiB", what, bytes / 1073741824.0,
         have / 1073741824.0);
}

void warn_if_more_threads_than_cores(int threads) {
  const unsigned cores = std::thread::hardware_concurrency();
  if (unsigned(threads) > std::max(1u, cores))
    fmt::print(stderr,
               "warning: --threads {} on a machine with {} cores: threads beyond the cores only "
               "slow each step down\n",
               threads, cores);
}

}  // namespace rnnmft
