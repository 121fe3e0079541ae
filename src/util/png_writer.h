// Minimal RGB image and a PNG writer on libpng, for `rnnmft data show` and diagnostics.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rnnmft {

struct RgbImage {
  int width = 0, height = 0;
  std::vector<uint8_t> pixels;  // row-major, 3 bytes per pixel

  RgbImage(int w, int h, uint8_t fill = 255)
      : width(w), height(h), pixels(size_t(w) * h * 3, fill) {}
  void set(int x, int y, uint8_t r, uint8_t g, uint8_t b) {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    uint8_t* p = &pixels[(size_t(y) * width + x) * 3];
    p[0] = r;
    p[1] = g;
    p[2] = b;
  }
  void fill_rect(int x0, int y0, int w, int h, uint8_t r, uint8_t g, uint8_t b) {
    for (int y = y0; y < y0 + h; ++y)
      for (int x = x0; x < x0 + w; ++x) set(x, y, r, g, b);
  }
};

// Writes atomically (temporary file, then rename); throws rnnmft::Error on failure.
void write_png(const std::string& path, const RgbImage& image);

}  // namespace rnnmft
