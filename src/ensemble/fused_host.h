// The fused recurrent sweep run on the host (ensemble/fused_sweep.h): the reference that the CPU
// backend runs when asked to, so that the engine's fused path is tested without a GPU.
#pragma once

#include "ensemble/fused_sweep.h"

namespace rnnmft::ens {

// Every model of `a`, one cluster at a time, one thread per warp, the tiles' inputs rounded as
// `rounding` says. a.tile_bytes = 2 (bf16 storage, the GPU's bf16 layout) takes TileRounding::Bf16;
// with a.tile_bytes = 4 and Bf16 the tiles are bf16 values stored as fp32, which gives the same
// bits (the host's products are exact and summed in the same order either way).
void run_fused_host(const FusedArgs& a, TileRounding rounding = TileRounding::Fp32);

// v with its mantissa rounded to TF32's 10 bits, to nearest with ties away from zero, as CUDA's
// wmma::__float_to_tf32 (cvt.rna.tf32.f32) rounds it; infinities and NaNs unchanged.
float round_tf32(float v);
// v rounded to bf16 (7 bits of mantissa), to nearest with ties to even, as __float2bfloat16_rn;
// infinities and NaNs unchanged.
float round_bf16(float v);

}  // namespace rnnmft::ens
