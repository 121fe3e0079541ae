// The fused sweep's barriers and exchanges on the host (ensemble/fused_host.h), for every cell
// kind and clusters of 1, 2 and 4 blocks: every output written, and bit for bit the same whatever
// the number of warps and from run to run (each tile is one warp's and the shares are summed in
// one order, so only a race can change a bit). test.sh also runs this file under ThreadSanitizer
// (tests/tsan/), which reports any access that a missing barrier leaves unordered. The bf16
// layout (tiles stored as bf16, products 16 deep) gives the bits of bf16 values in the fp32
// layout, so its offsets, padding and steps are checked against the layout the rest holds.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "ensemble/fused_host.h"

namespace rnnmft::ens {

void PrintTo(Kind k, std::ostream* os);  // gtest's name for a parameter

namespace {

constexpr int kModels = 2, kB = 18, kN = 64, kI = 5, kT = 5;
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// What one forward and one backward sweep leave behind.
struct Sweeps {
  std::vector<float> H, C, z, hn, rh, dh, dc;
};

struct Problem {
  Kind kind;
  int Gi, Gh;
  int64_t off_w_ih = 0, off_w_hh, off_bi, off_bh, params_k;
  std::vector<float> params, x, h0, dh;

  explicit Problem(Kind k) : kind(k), Gi(fused_cell(k).in), Gh(fused_cell(k).rec) {
    off_w_hh = int64_t(Gi) * kN * kI;
    off_bi = off_w_hh + int64_t(Gh) * kN * kN;
    off_bh = off_bi + int64_t(Gi) * kN;
    params_k = off_bh + int64_t(Gh) * kN;
    std::mt19937 rng(7 + int(k));
    std::uniform_real_distribution<float> u(-0.3f, 0.3f);
    for (auto* v : {&params, &x, &h0, &dh}) {
      const size_t n = v == &params ? size_t(kModels * params_k)
                       : v == &x    ? size_t(kModels) * kT * kB * kI
                                    : size_t(kModels) * kB * kN;
      v->resize(n);
      for (float& e : *v) e = u(rng);
    }
  }

  FusedArgs args(int P, int warps, bool backward, int tile_bytes) const {
    FusedArgs a;
    a.tile_bytes = tile_bytes;
    a.kind = kind;
    a.backward = backward;
    a.models = kModels;
    a.B = kB;
    a.N = kN;
    a.I = kI;
    a.Gi = Gi;
    a.steps = kT;
    a.P = P;
    a.warps = warps;
    a.params = params.data();
    a.params_k = params_k;
    a.off_w_ih = off_w_ih;
    a.off_w_hh = off_w_hh;
    a.off_bi = off_bi;
    a.off_bh = off_bh;
    a.x = x.data();
    a.x_k = int64_t(kT) * kB * kI;
    a.h_k = int64_t(kT + 1) * kB * kN;
    a.z_k = int64_t(kT) * kB * Gi * kN;
    a.hn_k = a.rh_k = int64_t(kT) * kB * kN;
    a.d_k = int64_t(kB) * kN;
    return a;
  }

  // The forward sweep from h0 (c0 = 0), then the backward from dh (dc = dh): every output starts
  // as NaN, so that one left unwritten shows.
  Sweeps run(int P, int warps, int tile_bytes = 4,
             TileRounding rounding = TileRounding::Fp32) const {
    const size_t BN = size_t(kB) * kN, steps = size_t(kModels) * kT;
    Sweeps s;
    s.H.assign(size_t(kModels) * (kT + 1) * BN, kNaN);
    s.C.assign(s.H.size(), kNaN);
    for (int k = 0; k < kModels; ++k)
      for (size_t i = 0; i < BN; ++i) {
        s.H[k * (kT + 1) * BN + i] = h0[k * BN + i];
        s.C[k * (kT + 1) * BN + i] = 0.f;
      }
    const bool lstm = kind == Kind::Lstm;
    FusedArgs f = args(P, warps, false, tile_bytes);
    f.H = s.H.data();
    f.C = lstm ? s.C.data() : nullptr;
    run_fused_host(f, rounding);
    s.z.assign(steps * BN * Gi, kNaN);
    s.hn.assign(kind == Kind::GruAfter ? steps * BN : 0, kNaN);
    s.rh.assign(kind == Kind::GruBefore ? steps * BN : 0, kNaN);
    s.dh = dh;
    s.dc = lstm ? dh : std::vector<float>{};
    FusedArgs b = args(P, warps, true, tile_bytes);
    b.H = s.H.data();
    b.C = f.C;
    b.z = s.z.data();
    b.hn = s.hn.empty() ? nullptr : s.hn.data();
    b.rh = s.rh.empty() ? nullptr : s.rh.data();
    b.dh = s.dh.data();
    b.dc = lstm ? s.dc.data() : nullptr;
    run_fused_host(b, rounding);
    if (!lstm) s.C.clear();
    return s;
  }
};

const char* name(Kind k) {
  switch (k) {
    case Kind::Vanilla:
      return "vanilla";
    case Kind::Minimal:
      return "minimal";
    case Kind::Lstm:
      return "lstm";
    case Kind::GruAfter:
      return "gru_reset_after";
    case Kind::GruBefore:
      return "gru_reset_before";
  }
  return "?";
}

// Bit for bit: the same floats, NaN included.
void expect_identical(const std::vector<float>& a, const std::vector<float>& b,
                      const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  size_t differ = 0, first = a.size();
  for (size_t i = 0; i < a.size(); ++i)
    if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0 && differ++ == 0) first = i;
  EXPECT_EQ(differ, 0u) << what << ": first at " << first;
}

void expect_finite(const std::vector<float>& v, const std::string& what) {
  size_t bad = 0;
  for (float e : v) bad += std::isfinite(e) ? 0 : 1;
  EXPECT_EQ(bad, 0u) << what << ": " << bad << " of " << v.size() << " not written or not finite";
}

void expect_all_identical(const Sweeps& s, const Sweeps& ref, const std::string& at, int warps) {
  const std::string w = at + ", " + std::to_string(warps) + " warps ";
  expect_identical(s.H, ref.H, w + "h");
  expect_identical(s.C, ref.C, w + "c");
  expect_identical(s.z, ref.z, w + "z");
  expect_identical(s.hn, ref.hn, w + "hn");
  expect_identical(s.rh, ref.rh, w + "rh");
  expect_identical(s.dh, ref.dh, w + "dh");
  expect_identical(s.dc, ref.dc, w + "dc");
}

class FusedRaces : public ::testing::TestWithParam<Kind> {};

TEST_P(FusedRaces, EveryOutputWrittenAndTheSameWhateverTheWarps) {
  const Problem p(GetParam());
  for (int P : {1, 2, 4}) {
    const Sweeps ref = p.run(P, 8);
    const std::string at = std::string(name(GetParam())) + ", cluster " + std::to_string(P);
    for (const auto& [v, what] : {std::pair{&ref.H, "h"},
                                  {&ref.C, "c"},
                                  {&ref.z, "z"},
                                  {&ref.hn, "hn"},
                                  {&ref.rh, "rh"},
                                  {&ref.dh, "dh"},
                                  {&ref.dc, "dc"}})
      expect_finite(*v, at + " " + what);
    for (int warps : {8, 1, 3}) expect_all_identical(p.run(P, warps), ref, at, warps);  // 8: again
  }
}

TEST_P(FusedRaces, Bf16LayoutGivesTheBitsOfBf16ValuesInTheFp32Layout) {
  const Problem p(GetParam());
  for (int P : {1, 2, 4}) {
    const std::string at =
        std::string(name(GetParam())) + ", bf16 layout, cluster " + std::to_string(P);
    const Sweeps ref = p.run(P, 8, 4, TileRounding::Bf16);
    for (int warps : {8, 3})
      expect_all_identical(p.run(P, warps, 2, TileRounding::Bf16), ref, at, warps);
    // The rounding is really there: fp32 tiles give other gradients.
    const Sweeps fp32 = p.run(P, 8);
    size_t differ = 0;
    for (size_t i = 0; i < fp32.dh.size(); ++i) differ += fp32.dh[i] != ref.dh[i];
    EXPECT_GT(differ, fp32.dh.size() / 2) << at;
  }
}

INSTANTIATE_TEST_SUITE_P(AllKinds, FusedRaces,
                         ::testing::Values(Kind::Vanilla, Kind::Minimal, Kind::Lstm, Kind::GruAfter,
                                           Kind::GruBefore),
                         [](const auto& info) { return std::string(name(info.param)); });

}  // namespace

void PrintTo(Kind k, std::ostream* os) {
  *os << name(k);
}

}  // namespace rnnmft::ens
