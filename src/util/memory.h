// Refusing work that cannot fit in memory before allocating it (instead of a kill by the kernel or
// std::bad_alloc after minutes).
#pragma once

#include <cstdint>
#include <string>

namespace rnnmft {

// Bytes of physical memory of this machine (0 if unknown).
uint64_t physical_memory_bytes();

// The memory limits of this process's own cgroup (cgroup v2 memory.max, or v1
// memory.limit_in_bytes) and of every cgroup above it up to the hierarchy's mount point: a Slurm
// job or a container sets its limit on the process's cgroup, not on the root.
struct CgroupMemory {
  uint64_t limit = 0;     // the tightest limit found; 0: none
  uint64_t headroom = 0;  // min over the limited levels of limit − usage; meaningful if limit > 0
  std::string where;      // the file that set `limit`, for messages
};
// From /proc/self/cgroup and /proc/self/mountinfo by default; the paths can be pointed elsewhere
// (tests). Missing or unreadable files count as "no limit".
CgroupMemory cgroup_memory(const std::string& proc_cgroup = "/proc/self/cgroup",
                           const std::string& mountinfo = "/proc/self/mountinfo");

// Bytes of memory available to new allocations now (Linux: MemAvailable, what is left under the
// cgroup limits and under an address-space limit (ulimit -v); else physical), and at most
// $RNNMFT_MAX_MEMORY when set (a shared node where others' use does not show in MemAvailable).
uint64_t available_memory_bytes();

// This process's virtual size (VmSize of /proc/self/status; 0 if unknown), what an address-space
// limit counts.
uint64_t process_virtual_bytes();

// RNNMFT_MAX_MEMORY's value in bytes: a number with an optional K, M, G or T (powers of 1024;
// "B" and "iB" after them allowed); throws an Error naming the variable otherwise.
uint64_t memory_cap(const std::string& text);

// Throws an Error naming `what` when `bytes` is more than 90 % of the physical memory (or of the
// cgroup limit, when lower).
void check_fits_memory(uint64_t bytes, const std::string& what);

// Throws an Error naming `what` when `bytes` more than what is in use now will not fit: more than
// 90 % of the memory available now.
void check_fits_available(uint64_t bytes, const std::string& what);

// What training a one-layer model holds at once, in bytes (float32): parameters, their gradients,
// the optimizer's state (`optimizer_slots` copies of the parameters: Adam 2, RMSprop and SGD with
// momentum 1), the states of every step of a batch kept for the backward sweep, the batch's inputs
// twice and the backward sweep's per-step buffers. Saturates at UINT64_MAX instead of wrapping.
struct TrainingFootprint {
  int input_gates = 1;      // G: gate blocks of W_ih (LSTM 4, GRU 3, minimal 2, vanilla 1)
  int recurrent_gates = 1;  // G_h: gate blocks of W_hh
  int64_t hidden = 0, input_dim = 1, classes = 10, batch = 1, seq_len = 1;
  int optimizer_slots = 2;
};
uint64_t training_memory_bytes(const TrainingFootprint& f);

// Adam: 2, rmsprop and sgd (momentum): 1; unknown names: 2 (the largest).
int optimizer_slots(const std::string& optimizer);

// Warns on stderr when `threads` is more than this machine's cores (train and bench).
void warn_if_more_threads_than_cores(int threads);

}  // namespace rnnmft
