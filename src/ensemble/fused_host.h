// The fused recurrent sweep run on the host (ensemble/fused_sweep.h): the reference that the CPU
// backend runs when asked to, so that the engine's fused path is tested without a GPU.
#pragma once

#include "ensemble/fused_sweep.h"

namespace rnnmft::ens {

// Every model of `a`, one cluster at a time, one thread per warp; tf32: the tiles' inputs rounded
// as the tensor cores take them (round_tf32), otherwise kept in fp32.
void run_fused_host(const FusedArgs& a, bool tf32 = false);

// v with its mantissa rounded to TF32's 10 bits, to nearest with ties away from zero, as CUDA's
// wmma::__float_to_tf32 (cvt.rna.tf32.f32) rounds it; infinities and NaNs unchanged.
float round_tf32(float v);

}  // namespace rnnmft::ens
