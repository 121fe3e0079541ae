// Memory estimates and limits (util/memory.h): the cgroup limit is found on the process's own
// cgroup and its parents (v2 and v1), and the training estimate counts parameters, gradients and
// optimizer state without wrapping.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cstdlib>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <string>

#include "../data/temp_dir.h"
#include "util/memory.h"

namespace rnnmft {
namespace {

namespace fs = std::filesystem;

void put(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << text;
}

TEST(CgroupMemory, V2LimitOnTheJobsOwnCgroupAndItsParents) {
  testing::TempDir t;
  const std::string root = t.file("cg2");
  put(t.file("cgroup"), "0::/slurm/uid_1/job_42/step_0\n");
  put(t.file("mountinfo"),
      "24 30 0:22 / /proc rw - proc proc rw\n"
      "35 25 0:30 / " + root + " rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate\n");
  // The root says nothing; the job's cgroup is limited, its step more loosely, its user more so.
  put(root + "/memory.max", "max\n");
  put(root + "/slurm/uid_1/memory.max", "8589934592\n");
  put(root + "/slurm/uid_1/memory.current", "1073741824\n");
  put(root + "/slurm/uid_1/job_42/memory.max", "2147483648\n");
  put(root + "/slurm/uid_1/job_42/memory.current", "536870912\n");
  put(root + "/slurm/uid_1/job_42/step_0/memory.max", "max\n");
  const CgroupMemory m = cgroup_memory(t.file("cgroup"), t.file("mountinfo"));
  EXPECT_EQ(m.limit, 2147483648u);
  EXPECT_EQ(m.headroom, 2147483648u - 536870912u);
  EXPECT_EQ(m.where, root + "/slurm/uid_1/job_42/memory.max");
}

TEST(CgroupMemory, V1MemoryControllerAsFallback) {
  testing::TempDir t;
  const std::string mem = t.file("memory");
  put(t.file("cgroup"), "5:cpu,cpuacct:/job\n4:memory:/batch/job_7\n0::/\n");
  put(t.file("mountinfo"),
      "32 31 0:29 / " + t.file("cpu") + " rw - cgroup cgroup rw,cpu,cpuacct\n"
      "35 31 0:32 / " + mem + " rw,relatime - cgroup cgroup rw,memory\n");
  put(mem + "/memory.limit_in_bytes", "9223372036854771712\n");  // v1's "no limit"
  put(mem + "/batch/job_7/memory.limit_in_bytes", "4294967296\n");
  put(mem + "/batch/job_7/memory.usage_in_bytes", "294967296\n");
  const CgroupMemory m = cgroup_memory(t.file("cgroup"), t.file("mountinfo"));
  EXPECT_EQ(m.limit, 4294967296u);
  EXPECT_EQ(m.headroom, 4000000000u);
}

TEST(CgroupMemory, MountedBelowTheCgroupRoot) {
  // A container sees its own cgroup as the mount's root: the path in /proc/self/cgroup starts
  // with the mount's root, which is not repeated below the mount point.
  testing::TempDir t;
  const std::string root = t.file("cg");
  put(t.file("cgroup"), "0::/docker/abc/inner\n");
  put(t.file("mountinfo"), "35 25 0:30 /docker/abc " + root + " rw - cgroup2 cgroup2 rw\n");
  put(root + "/inner/memory.max", "1048576\n");
  EXPECT_EQ(cgroup_memory(t.file("cgroup"), t.file("mountinfo")).limit, 1048576u);
}

TEST(CgroupMemory, NoLimitAnywhere) {
  testing::TempDir t;
  put(t.file("cgroup"), "0::/user.slice\n");
  put(t.file("mountinfo"), "35 25 0:30 / " + t.file("cg") + " rw - cgroup2 cgroup2 rw\n");
  put(t.file("cg") + "/user.slice/memory.max", "max\n");
  EXPECT_EQ(cgroup_memory(t.file("cgroup"), t.file("mountinfo")).limit, 0u);
  EXPECT_EQ(cgroup_memory(t.file("missing"), t.file("missing")).limit, 0u);
}

TEST(TrainingMemory, CountsParametersGradientsAndOptimizerState) {
  // LSTM, N = 16384, I = 1, 10 classes, batch 1024, T = 1: the parameters (4·N·(N + 1 + 2) +
  // 10·N + 10 floats, 4.3 GB) four times with Adam, once more than with SGD.
  TrainingFootprint f{4, 4, 16384, 1, 10, 1024, 1, 2};
  const double params = 4.0 * 16384 * (16384 + 1 + 2) + 10.0 * 16384 + 10;
  const uint64_t adam = training_memory_bytes(f);
  EXPECT_GE(double(adam), 4 * 4 * params);
  f.optimizer_slots = optimizer_slots("sgd");
  EXPECT_NEAR(double(adam - training_memory_bytes(f)), 4 * params, 1.0);
  EXPECT_EQ(optimizer_slots("adam"), 2);
  EXPECT_EQ(optimizer_slots("rmsprop"), 1);
  // Shapes from a file or flags saturate instead of wrapping to a small number.
  f.hidden = int64_t(1) << 40;
  f.seq_len = int64_t(1) << 40;
  EXPECT_EQ(training_memory_bytes(f), std::numeric_limits<uint64_t>::max());
}

TEST(TrainingMemory, RefusedAgainstTheMachine) {
  TrainingFootprint f{4, 4, 16384, 1, 10, 1024, 100000, 2};
  EXPECT_THROW(check_fits_available(training_memory_bytes(f), "training"), Error);
  EXPECT_NO_THROW(check_fits_available(training_memory_bytes({4, 4, 8, 1, 10, 1, 10, 2}), "x"));
}

// An address-space limit (ulimit -v) counts: what is left of it beyond the process's size.
// Sets or unsets an environment variable for the life of a scope, then restores it.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* v = std::getenv(name)) saved_ = v;
    if (value) setenv(name, value, 1);
    else unsetenv(name);
  }
  ~ScopedEnv() {
    if (saved_) setenv(name_, saved_->c_str(), 1);
    else unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> saved_;
};

TEST(AvailableMemory, AddressSpaceLimit) {
  const ScopedEnv no_cap("RNNMFT_MAX_MEMORY", nullptr);
  struct rlimit old {};
  ASSERT_EQ(getrlimit(RLIMIT_AS, &old), 0);
  const uint64_t vm = process_virtual_bytes();
  ASSERT_GT(vm, 0u);
  const uint64_t room = uint64_t(1) << 30;
  struct rlimit lim = old;
  lim.rlim_cur = rlim_t(vm + room);
  if (old.rlim_max != RLIM_INFINITY && lim.rlim_cur > old.rlim_max) GTEST_FAIL() << "hard limit";
  ASSERT_EQ(setrlimit(RLIMIT_AS, &lim), 0);
  const uint64_t have = available_memory_bytes();
  ASSERT_EQ(setrlimit(RLIMIT_AS, &old), 0);
  EXPECT_LE(have, room);
  // The process grew by less than half a GiB in between (unless the machine itself has less
  // left, which then bounds `have` instead).
  if (available_memory_bytes() > room) {
    EXPECT_GT(have, room / 2);
  }
}

TEST(AvailableMemory, EnvironmentCap) {
  EXPECT_EQ(memory_cap("4G"), uint64_t(4) << 30);
  EXPECT_EQ(memory_cap("512MiB"), uint64_t(512) << 20);
  EXPECT_EQ(memory_cap("1.5k"), 1536u);
  EXPECT_EQ(memory_cap("1000"), 1000u);
  for (const char* bad : {"", "x", "4X", "-1G", "0", "nan", "1e30T", "4 G"})
    EXPECT_THROW(memory_cap(bad), Error) << bad;
  const ScopedEnv cap("RNNMFT_MAX_MEMORY", "1M");
  EXPECT_LE(available_memory_bytes(), uint64_t(1) << 20);
  EXPECT_THROW(check_fits_available(uint64_t(1) << 20, "x"), Error);
}

}  // namespace
}  // namespace rnnmft
