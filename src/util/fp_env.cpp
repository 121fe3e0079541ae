#include "util/fp_env.h"

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define RNNMFT_HAVE_MXCSR 1
#endif

namespace rnnmft {

#ifdef RNNMFT_HAVE_MXCSR
namespace {
constexpr unsigned kFtz = 0x8000, kDaz = 0x0040;  // MXCSR bits 15 and 6
}
void flush_denormals() {
  const unsigned m = _mm_getcsr();
  if ((m & (kFtz | kDaz)) != (kFtz | kDaz)) _mm_setcsr(m | kFtz | kDaz);
}
bool denormals_flushed() { return (_mm_getcsr() & (kFtz | kDaz)) == (kFtz | kDaz); }
void keep_denormals() { _mm_setcsr(_mm_getcsr() & ~(kFtz | kDaz)); }
#else
void flush_denormals() {}
bool denormals_flushed() { return false; }
void keep_denormals() {}
#endif

}  // namespace rnnmft
