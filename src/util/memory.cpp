#include "util/memory.h"

#include <unistd.h>

#include "util/error.h"

namespace rnnmft {

uint64_t physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && size > 0 ? uint64_t(pages) * uint64_t(size) : 0;
}

void check_fits_memory(uint64_t bytes, const std::string& what) {
  const uint64_t have = physical_memory_bytes();
  if (have > 0 && double(bytes) > 0.9 * double(have))
    fail("{} needs {:.1f} GiB of memory; this machine has {:.1f} GiB", what, bytes / 1073741824.0,
         have / 1073741824.0);
}

}  // namespace rnnmft
