// Named views of a cell's gate blocks. Gate activations (and pre-activations, and their
// gradients) are laid out as Gi blocks of N values in the cell's gate order (docs/cells.md
// §Forward; CellDesc::gates), and the recurrent pre-activations h W_hhᵀ + b_hh as the first Gh of
// those blocks. A view names the blocks (`g.forget()`) so that kernels hold no `k * N` offsets.
//
// The same named view serves three storage kinds, picked by its template argument:
//   RowBlocks<S>     one row of B × G·N: `g.forget()` is an S* to N values (the scalar loops);
//   ArrayBlocks<S>   all B rows: `g.forget()` is a strided B × N Eigen array map (the fast path);
//   DenseBlocks<E>   a double-precision vector or matrix (the Jacobian): `g.forget()` is the
//                    Eigen block of rows k·N … (k+1)·N (gate activations, or W_hh's block).
#pragma once

#include <Eigen/Core>
#include <array>
#include <cstddef>
#include <type_traits>

namespace rnnmft::kernels {

template <typename S>
struct RowBlocks {
  S* p;
  int n;
  S* at(int k) const { return p + size_t(k) * n; }
};

template <typename S>
struct ArrayBlocks {
  using Arr = Eigen::Array<std::remove_const_t<S>, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using Map =
      Eigen::Map<std::conditional_t<std::is_const_v<S>, const Arr, Arr>, 0, Eigen::OuterStride<>>;
  S* p;
  int rows, n, ld;  // ld: the row stride, G·N
  Map at(int k) const { return Map(p + size_t(k) * n, rows, n, Eigen::OuterStride<>(ld)); }
};

template <class E>
struct DenseBlocks {
  const E& m;
  int n;
  auto at(int k) const { return m.middleRows(k * n, n); }
};

// The cells' gates, in block order. `count` is the number of input blocks (Gi).
template <class V>
struct VanillaGates : V {
  static constexpr std::array<const char*, 1> names = {"hidden"};
  static constexpr int count = 1;
  decltype(auto) hidden() const { return this->at(0); }
};

template <class V>
struct MinimalGates : V {
  static constexpr std::array<const char*, 2> names = {"update", "embed"};
  static constexpr int count = 2;
  decltype(auto) update() const { return this->at(0); }
  decltype(auto) embed() const { return this->at(1); }  // no recurrent block
};

template <class V>
struct GruGates : V {
  static constexpr std::array<const char*, 3> names = {"reset", "update", "candidate"};
  static constexpr int count = 3;
  static constexpr int candidate_block = 2;  // the blocks before it read h itself
  decltype(auto) reset() const { return this->at(0); }
  decltype(auto) update() const { return this->at(1); }
  decltype(auto) candidate() const { return this->at(candidate_block); }
};

template <class V>
struct LstmGates : V {
  static constexpr std::array<const char*, 4> names = {"input", "forget", "cell", "output"};
  static constexpr int count = 4;
  decltype(auto) input() const { return this->at(0); }
  decltype(auto) forget() const { return this->at(1); }
  decltype(auto) cell() const { return this->at(2); }
  decltype(auto) output() const { return this->at(3); }
};

// Row b of a row-major B × ld matrix of gate blocks: G<RowBlocks> over its N-wide blocks.
template <template <class> class G, typename S>
G<RowBlocks<S>> gate_row(S* m, int b, int n, int ld) {
  return {{m + size_t(b) * ld, n}};
}
// All B rows of a row-major B × ld matrix of gate blocks.
template <template <class> class G, typename S>
G<ArrayBlocks<S>> gate_blocks(S* m, int rows, int n, int ld) {
  return {{m, rows, n, ld}};
}
// The gate blocks of a column vector or of a matrix's rows (double precision).
template <template <class> class G, class E>
G<DenseBlocks<E>> gate_rows(const E& m, int n) {
  return {{m, n}};
}

}  // namespace rnnmft::kernels
