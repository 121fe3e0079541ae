#include "util/memory.h"

#include <fmt/core.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "util/error.h"

namespace rnnmft {

uint64_t physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && size > 0 ? uint64_t(pages) * uint64_t(size) : 0;
}

namespace {

// One number from a cgroup file; nullopt-like false for "max", absent files and v1's "no limit"
// (a page-rounded 2^63 − 1).
bool read_limit(const std::string& path, uint64_t& out) {
  std::ifstream in(path);
  std::string s;
  if (!(in >> s) || s == "max" || s.empty() || s.find_first_not_of("0123456789") != s.npos)
    return false;
  errno = 0;
  const unsigned long long v = std::strtoull(s.c_str(), nullptr, 10);
  if (errno != 0 || v >= (uint64_t(1) << 62)) return false;
  out = v;
  return true;
}

struct Mount {
  std::string root, point, fstype, options;
};

std::vector<Mount> cgroup_mounts(const std::string& mountinfo) {
  // "36 25 0:31 / /sys/fs/cgroup/memory rw,relatime shared:15 - cgroup cgroup rw,memory"
  std::vector<Mount> out;
  std::ifstream in(mountinfo);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ss(line);
    std::vector<std::string> f;
    for (std::string w; ss >> w;) f.push_back(w);
    auto dash = std::find(f.begin(), f.end(), "-");
    if (f.size() < 5 || dash == f.end() || f.end() - dash < 2) continue;
    Mount m{f[3], f[4], *(dash + 1), dash + 3 < f.end() ? *(dash + 3) : ""};
    if (m.fstype == "cgroup" || m.fstype == "cgroup2") out.push_back(m);
  }
  return out;
}

bool has_option(const std::string& options, const std::string& name) {
  std::istringstream ss(options);
  for (std::string o; std::getline(ss, o, ',');)
    if (o == name) return true;
  return false;
}

// The directory of cgroup `path` (as /proc/self/cgroup gives it) under mount `m`.
std::string cgroup_dir(const Mount& m, const std::string& path) {
  std::string rel = path;
  if (m.root != "/" && rel.compare(0, m.root.size(), m.root) == 0) rel = rel.substr(m.root.size());
  if (rel.find("/..") != std::string::npos || (!rel.empty() && rel[0] != '/')) rel.clear();
  while (!rel.empty() && rel.back() == '/') rel.pop_back();
  return m.point + rel;
}

// Walks from `dir` up to the mount point, reading `limit_file` and `usage_file` at each level.
void walk_up(const std::string& dir, const std::string& top, const char* limit_file,
             const char* usage_file, CgroupMemory& out) {
  std::string d = dir;
  for (;;) {
    uint64_t limit = 0;
    if (read_limit(d + "/" + limit_file, limit)) {
      uint64_t usage = 0;
      std::ifstream u(d + "/" + usage_file);
      if (!(u >> usage)) usage = 0;
      const uint64_t room = limit > usage ? limit - usage : 0;
      out.headroom = out.limit == 0 ? room : std::min(out.headroom, room);
      if (out.limit == 0 || limit < out.limit) {
        out.limit = limit;
        out.where = d + "/" + limit_file;
      }
    }
    if (d.size() <= top.size()) break;
    const size_t slash = d.rfind('/');
    if (slash == std::string::npos || slash < top.size()) {
      d = top;
    } else {
      d.resize(slash);
    }
  }
}

}  // namespace

CgroupMemory cgroup_memory(const std::string& proc_cgroup, const std::string& mountinfo) {
  CgroupMemory out;
  const std::vector<Mount> mounts = cgroup_mounts(mountinfo);
  std::ifstream in(proc_cgroup);
  std::string line;
  while (std::getline(in, line)) {
    // "0::/user.slice/job_42" (v2) or "4:memory:/slurm/uid_1/job_42" (v1)
    const size_t a = line.find(':'), b = a == line.npos ? a : line.find(':', a + 1);
    if (b == line.npos) continue;
    const std::string id = line.substr(0, a), controllers = line.substr(a + 1, b - a - 1),
                      path = line.substr(b + 1);
    for (const Mount& m : mounts) {
      if (id == "0" && controllers.empty() && m.fstype == "cgroup2")
        walk_up(cgroup_dir(m, path), m.point, "memory.max", "memory.current", out);
      else if (m.fstype == "cgroup" && has_option(controllers, "memory") &&
               has_option(m.options, "memory"))
        walk_up(cgroup_dir(m, path), m.point, "memory.limit_in_bytes", "memory.usage_in_bytes",
                out);
    }
  }
  return out;
}

uint64_t process_virtual_bytes() {
  std::ifstream st("/proc/self/status");
  std::string key;
  uint64_t kb = 0;
  while (st >> key)
    if (key == "VmSize:") {
      st >> kb;
      break;
    }
  return kb * 1024;
}

uint64_t memory_cap(const std::string& text) {
  // A number of bytes with an optional binary suffix: 512M, 4G, 1.5TiB.
  double v = 0;
  const auto [rest, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  std::string unit(rest, text.data() + text.size());
  for (char& c : unit) c = char(std::toupper(static_cast<unsigned char>(c)));
  const std::string prefixes = "KMGT";
  const size_t k = unit.empty() ? std::string::npos : prefixes.find(unit[0]);
  const bool known = unit.empty() || unit == "B" ||
                     (k != std::string::npos && (unit.size() == 1 || unit.substr(1) == "B" ||
                                                 unit.substr(1) == "IB"));
  const double bytes = v * std::pow(1024.0, k == std::string::npos ? 0 : double(k + 1));
  if (ec != std::errc() || !known || !(bytes > 0) || bytes >= 1.8e19)
    fail("RNNMFT_MAX_MEMORY='{}' is not a size (bytes, or a number with K, M, G or T: 4G)", text);
  return uint64_t(bytes);
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
  // A cgroup limit (Slurm, containers) is what the kernel enforces: what is left under it.
  const CgroupMemory cg = cgroup_memory();
  if (cg.limit > 0) have = std::min(have, cg.headroom);
  // An address-space limit (`ulimit -v`, set by some batch systems and login nodes): what is left
  // of it beyond the process's current virtual size.
  struct rlimit as {};
  if (getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY) {
    const uint64_t vm = process_virtual_bytes();
    const uint64_t limit = uint64_t(as.rlim_cur);
    // At least 1: 0 reads as "unknown" in the checks, and here it means nothing is left.
    have = std::min(have, limit > vm ? limit - vm : 1);
  }
  if (const char* cap = std::getenv("RNNMFT_MAX_MEMORY")) have = std::min(have, memory_cap(cap));
  return have;
}

void check_fits_available(uint64_t bytes, const std::string& what) {
  const uint64_t have = available_memory_bytes();
  if (have > 0 && double(bytes) > 0.9 * double(have))
    fail("{} needs {:.1f} GiB more memory; {:.1f} GiB are available to this process", what,
         bytes / 1073741824.0, have / 1073741824.0);
}

void check_fits_memory(uint64_t bytes, const std::string& what) {
  const uint64_t have = physical_memory_bytes();
  const CgroupMemory cg = cgroup_memory();
  if (cg.limit > 0 && (have == 0 || cg.limit < have)) {
    if (double(bytes) > 0.9 * double(cg.limit))
      fail("{} needs {:.1f} GiB of memory; this process may use {:.1f} GiB ({})", what,
           bytes / 1073741824.0, cg.limit / 1073741824.0, cg.where);
    return;
  }
  if (have > 0 && double(bytes) > 0.9 * double(have))
    fail("{} needs {:.1f} GiB of memory; this machine has {:.1f} GiB", what, bytes / 1073741824.0,
         have / 1073741824.0);
}

uint64_t training_memory_bytes(const TrainingFootprint& f) {
  // In double: a shape from a file or a flag must not wrap the count.
  const double N = double(f.hidden), I = double(f.input_dim), C = double(f.classes),
               B = double(f.batch), T = double(f.seq_len), G = f.input_gates,
               Gh = f.recurrent_gates;
  const double params = G * N * I + Gh * N * N + G * N + Gh * N + C * N + C;
  const double per_param = 2.0 + std::max(0, f.optimizer_slots);  // values, gradients, state
  const double states = T * B * (G * N + 3 * N);                   // kept for the backward sweep
  const double inputs = 2 * T * B * I;
  const double step_buffers = 4 * B * (G * N + 3 * N) + B * C;
  const double bytes = 4.0 * (per_param * params + states + inputs + step_buffers);
  return bytes >= 1.8e19 ? std::numeric_limits<uint64_t>::max() : uint64_t(bytes);
}

int optimizer_slots(const std::string& optimizer) {
  if (optimizer == "sgd" || optimizer == "rmsprop") return 1;
  return 2;
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
