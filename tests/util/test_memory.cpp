// Memory estimates and limits (util/memory.h): the cgroup limit is found on the process's own
// cgroup and its parents (v2 and v1), and the training estimate counts parameters, gradients and
// optimizer state without wrapping.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
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

}  // namespace
}  // namespace rnnmft
