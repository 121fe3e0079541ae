#include "util/png_writer.h"

#include <png.h>

#include <string>

#include "util/atomic_file.h"
#include "util/error.h"

namespace rnnmft {

namespace {

void append_bytes(png_structp png, png_bytep data, png_size_t n) {
  // No C++ exception may cross libpng's C frames: out of memory becomes libpng's own error.
  try {
    static_cast<std::string*>(png_get_io_ptr(png))->append(reinterpret_cast<const char*>(data), n);
  } catch (...) {
    png_error(png, "out of memory");
  }
}
void no_flush(png_structp) {}

}  // namespace

void write_png(const std::string& path, const RgbImage& image) {
  if (image.width <= 0 || image.height <= 0) fail("cannot write an empty image to {}", path);
  // Encoded in memory, then written by the one atomic writer (checked writes, fsync, rename).
  std::string bytes;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!png || !info || setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    fail("libpng failed while encoding {}", absolute_path(path));
  }
  png_set_write_fn(png, &bytes, append_bytes, no_flush);
  png_set_IHDR(png, info, image.width, image.height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < image.height; ++y)
    png_write_row(png, const_cast<png_bytep>(&image.pixels[size_t(y) * image.width * 3]));
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  write_file_atomic(path, bytes);
}

}  // namespace rnnmft
