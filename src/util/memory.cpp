#include "util/memory.h"

#include <unistd.h>

#include <fstream>
#include <string>

#include "util/error.h"

namespace rnnmft {

uint64_t physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && size > 0 ? uint64_t(pages) * uint64_t(size) : 0;
}

uint64_t available_memory_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key, unit;
  uint64_t kb = 0;
  while (in >> key >> kb >> unit)
    if (key == "MemAvailable:") return kb * 1024;
  return physical_memory_bytes();
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

}  // namespace rnnmft
