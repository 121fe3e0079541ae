// Flush-to-zero and denormals-are-zero for the engine's threads. Gradients that vanish through a
// long stretch of zero inputs pass through subnormal floats, which some CPUs (Intel's) process
// many times slower: a step with PyTorch's init on padded MNIST took 5× as long as with the
// critical init. With both modes on, results below the smallest normal float (1.18e-38) and such
// inputs are read as 0 (docs/performance.md §Subnormal floats). x86 only (SSE MXCSR); elsewhere the
// functions do nothing and report false.
#pragma once

namespace rnnmft {

// Turns both modes on in the calling thread (cheap when already on).
void flush_denormals();
// Whether both modes are on in the calling thread.
bool denormals_flushed();
// Turns them off in the calling thread (tests).
void keep_denormals();

}  // namespace rnnmft
