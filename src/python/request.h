// The Python extension's plumbing (module.cpp): requests as strict JSON, the theory's options and
// init specs read from them, and the guard that turns C++ exceptions into Python ones.
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <limits>
#include <new>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <vector>

#include "cells/cell_type.h"
#include "sim/tied_check.h"
#include "spec/init_spec.h"
#include "theory/mean_field.h"
#include "util/error.h"
#include "util/json_read.h"
#include "util/fp_env.h"

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

namespace rnnmft::python {

namespace py = pybind11;

// Flush-to-zero and denormals-are-zero while the library computes, as the CLI runs it
// (util/fp_env.h: subnormal doubles in the critical search and the LSTM sampler are many times
// slower), and the caller's floating-point mode restored afterwards. OpenMP's worker threads
// inherit the mode of the thread that starts them.
class ScopedFlushDenormals {
 public:
#if defined(__SSE__)
  ScopedFlushDenormals() : saved_(_mm_getcsr()) {
#pragma omp parallel
    flush_denormals();
    flush_denormals();
  }
  ~ScopedFlushDenormals() {
    const unsigned saved = saved_;
#pragma omp parallel
    _mm_setcsr(saved);
    _mm_setcsr(saved);
  }

 private:
  unsigned saved_;
#else
  ScopedFlushDenormals() { flush_denormals(); }
#endif
};

// Runs f, turning C++ exceptions into Python ones with the library's message.
template <typename F>
auto guarded(F&& f) -> decltype(f()) {
  try {
    ScopedFlushDenormals flush;
    return f();
  } catch (const py::error_already_set&) {
    throw;
  } catch (const py::builtin_exception&) {
    throw;
  } catch (const Error& e) {
    throw py::value_error(e.what());
  } catch (const nlohmann::json::exception& e) {
    throw py::value_error(std::string("malformed request: ") + e.what());
  } catch (const std::bad_alloc&) {
    throw;  // MemoryError
  } catch (const std::exception& e) {
    throw py::value_error(e.what());
  }
}

// Strict reading of a request: every key must be one the function knows.
class Request {
 public:
  Request(const std::string& text, std::vector<std::string> known) : j_(parse_json(text)) {
    if (!j_.is_object()) fail("request must be a JSON object");
    for (const auto& [k, v] : j_.items()) {
      bool ok = false;
      for (const auto& n : known) ok = ok || n == k;
      if (!ok) fail("unknown option '{}'", k);
    }
  }
  bool has(const char* k) const { return j_.contains(k) && !j_[k].is_null(); }
  const nlohmann::json& at(const char* k) const { return j_.at(k); }
  template <typename T>
  T get(const char* k, T dflt) const {
    if (!has(k)) return dflt;
    const nlohmann::json& v = j_.at(k);
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      // nlohmann's get<int> narrows silently (2^32 + 5 becomes 5, 10^12 a negative count): a
      // number out of T's range must be refused by name, not run wrapped.
      if (!v.is_number_integer()) fail("{} must be an integer (got {})", k, v.dump());
      using L = std::numeric_limits<T>;
      const bool in_range = v.is_number_unsigned()
                                ? v.get<uint64_t>() <= uint64_t(L::max())
                                : v.get<int64_t>() >= int64_t(L::min()) &&
                                      (!L::is_signed || v.get<int64_t>() <= int64_t(L::max()));
      if (!in_range) fail("{} = {} is out of range ({} to {})", k, v.dump(), L::min(), L::max());
    }
    return v.get<T>();
  }

 private:
  nlohmann::json j_;
};

inline const std::vector<std::string> kTheoryKeys = {"input_var", "input_overlap", "order",  "samples",
                                              "groups",    "burn_in",       "average", "mc_seed",
                                              "gru_variant"};

// The theory's options (the CLI's add_theory_flags, plus --gru-variant).
theory::TheoryOptions theory_options(const Request& r, theory::TheoryOptions o = {});


// a followed by b.
std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b);

// "init": {"preset": NAME} | {"file": PATH} | {"spec": {...}}; "cell" is checked against a spec
// that brings its own cell, as the CLI does when --cell is given.
InitSpec resolve_spec(const nlohmann::json& init, CellType cell, int hidden, int input_dim,
                      int seq_len);

// The finite-width, tied check beside the mean-field numbers, as the CLI runs it
// (docs/theory.md §9.4); none if the request turns it off or T is beyond its reach.
std::optional<sim::TiedCheck> tied_check(const Request& r, const InitSpec& spec, int hidden,
                                         int input_dim, int T, const theory::TheoryOptions& opt);

inline const std::vector<std::string> kTiedKeys = {"tied_check", "tied_trials", "tied_seed"};

}  // namespace rnnmft::python
