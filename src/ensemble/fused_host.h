// The fused recurrent sweep run on the host (ensemble/fused_sweep.h): the reference that the CPU
// backend runs when asked to, so that the engine's fused path is tested without a GPU.
#pragma once

#include "ensemble/fused_sweep.h"

namespace rnnmft::ens {

// Every model of `a`, one cluster at a time, one thread per warp.
void run_fused_host(const FusedArgs& a);

}  // namespace rnnmft::ens
