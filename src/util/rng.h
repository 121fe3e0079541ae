// The one seeded generator of the project. PCG-XSH-RR 64/32 (O'Neill 2014) with our own
// Fisher–Yates shuffle and normal sampler, so that a seed fixes every draw on every platform
// (std::shuffle and std::normal_distribution are implementation-defined).
#pragma once

#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

namespace rnnmft {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0x853c49e6748fea9bULL, uint64_t stream = 0xda3e39cb94b95bdbULL) {
    state_ = 0;
    inc_ = (stream << 1u) | 1u;
    next_u32();
    state_ += seed;
    next_u32();
  }

  uint32_t next_u32() {
    uint64_t old = state_;
    state_ = old * 6364136223846793005ULL + inc_;
    auto xorshifted = static_cast<uint32_t>(((old >> 18u) ^ old) >> 27u);
    auto rot = static_cast<uint32_t>(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((32u - rot) & 31u));
  }

  uint64_t next_u64() { return (uint64_t(next_u32()) << 32) | next_u32(); }

  // Uniform integer in [0, bound) without modulo bias (Lemire's method, 32-bit bounds).
  uint32_t below(uint32_t bound) {
    uint64_t m = uint64_t(next_u32()) * bound;
    auto low = static_cast<uint32_t>(m);
    if (low < bound) {
      uint32_t threshold = (0u - bound) % bound;
      while (low < threshold) {
        m = uint64_t(next_u32()) * bound;
        low = static_cast<uint32_t>(m);
      }
    }
    return static_cast<uint32_t>(m >> 32);
  }

  // Uniform double in [0, 1) with 53 random bits.
  double uniform() { return double(next_u64() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

  // Standard normal by the ziggurat method (Marsaglia & Tsang 2000) with 128 layers; the layer
  // index and the value come from separate bits of one 64-bit draw (Doornik 2005).
  double normal() {
    const auto& z = Ziggurat::get();
    for (;;) {
      const uint64_t u = next_u64();
      const int i = int(u & 127);
      const auto hz = static_cast<int32_t>(u >> 32);
      const double x = hz * z.w[i];
      if (uint32_t(hz < 0 ? -int64_t(hz) : hz) < z.k[i]) return x;
      if (i == 0) {  // the tail beyond r, by Marsaglia's exponential method
        double a, b;
        do {
          a = -std::log(1.0 - uniform()) / Ziggurat::r;
          b = -std::log(1.0 - uniform());
        } while (b + b < a * a);
        return hz > 0 ? Ziggurat::r + a : -Ziggurat::r - a;
      }
      if (z.f[i] + uniform() * (z.f[i - 1] - z.f[i]) < std::exp(-0.5 * x * x)) return x;
    }
  }
  double normal(double mean, double std) { return mean + std * normal(); }

  template <typename T>
  void shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) {
      size_t j = below(static_cast<uint32_t>(i));
      std::swap(v[i - 1], v[j]);
    }
  }

 private:
  struct Ziggurat {
    static constexpr double r = 3.442619855899;
    uint32_t k[128];
    double w[128], f[128];
    static const Ziggurat& get() {
      static const Ziggurat z;
      return z;
    }
    Ziggurat() {
      const double m = 2147483648.0, v = 9.91256303526217e-3;
      double d = r, t = r;
      const double q = v / std::exp(-0.5 * d * d);
      k[0] = uint32_t((d / q) * m);
      k[1] = 0;
      w[0] = q / m;
      w[127] = d / m;
      f[0] = 1.0;
      f[127] = std::exp(-0.5 * d * d);
      for (int i = 126; i >= 1; --i) {
        d = std::sqrt(-2.0 * std::log(v / d + std::exp(-0.5 * d * d)));
        k[i + 1] = uint32_t((d / t) * m);
        t = d;
        f[i] = std::exp(-0.5 * d * d);
        w[i] = d / m;
      }
    }
  };

  uint64_t state_, inc_;
};

}  // namespace rnnmft
