// Refusing work that cannot fit in memory before allocating it (instead of a kill by the kernel or
// std::bad_alloc after minutes).
#pragma once

#include <cstdint>
#include <string>

namespace rnnmft {

// Bytes of physical memory of this machine (0 if unknown).
uint64_t physical_memory_bytes();

// Bytes of memory available to new allocations now (Linux: MemAvailable; else physical).
uint64_t available_memory_bytes();

// Throws an Error naming `what` when `bytes` is more than 90 % of the physical memory.
void check_fits_memory(uint64_t bytes, const std::string& what);

// Throws an Error naming `what` when `bytes` more than what is in use now will not fit: more than
// 90 % of the memory available now.
void check_fits_available(uint64_t bytes, const std::string& what);

// Warns on stderr when `threads` is more than this machine's cores (train and bench).
void warn_if_more_threads_than_cores(int threads);

}  // namespace rnnmft
