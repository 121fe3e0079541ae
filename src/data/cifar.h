// Strict reader for the CIFAR-10 binary version (Krizhevsky 2009): each record is 1 label byte
// followed by 3072 pixel bytes, the R, G and B planes of a 32×32 image, each row-major.
#pragma once

#include <string>

#include "data/dataset.h"

namespace rnnmft {

inline constexpr int kCifarSide = 32;
inline constexpr size_t kCifarRecord = 1 + 3 * 32 * 32;

// Appends the records of one batch file to `set` (converted to interleaved RGB); throws
// rnnmft::Error for a missing, empty or truncated file or a label outside 0–9.
void append_cifar_batch(const std::string& path, ImageSet& set);

}  // namespace rnnmft
