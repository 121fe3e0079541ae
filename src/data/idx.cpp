#include "data/idx.h"

#include <zlib.h>

#include <filesystem>
#include <memory>

#include "util/error.h"

namespace rnnmft {
namespace {

struct GzCloser {
  void operator()(gzFile_s* f) const {
    if (f) gzclose(f);
  }
};
using GzPtr = std::unique_ptr<gzFile_s, GzCloser>;

// Reads up to n bytes; returns the count read, throwing on a corrupt stream.
size_t gz_read(gzFile f, uint8_t* dst, size_t n, const std::string& where) {
  size_t total = 0;
  while (total < n) {
    unsigned chunk = static_cast<unsigned>(std::min<size_t>(n - total, 1u << 30));
    int got = gzread(f, dst + total, chunk);
    if (got < 0) {
      int errnum = 0;
      const char* msg = gzerror(f, &errnum);
      fail("{}: corrupt or unreadable compressed data ({})", where, msg ? msg : "zlib error");
    }
    if (got == 0) break;
    total += size_t(got);
  }
  return total;
}

uint32_t be32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

}  // namespace

IdxArray read_idx(const std::string& path, size_t max_bytes) {
  IdxArray out;
  out.path = absolute_path(path);
  const std::string& where = out.path;
  const uint64_t file_size = existing_file_size(path, where);

  GzPtr f(gzopen(path.c_str(), "rb"));
  if (!f) fail("{}: cannot open file", where);

  uint8_t head[4];
  if (gz_read(f.get(), head, 4, where) < 4)
    fail("{}: truncated: shorter than the 4-byte IDX magic", where);
  const bool compressed = gzdirect(f.get()) == 0;
  const uint32_t magic = be32(head);
  if (head[0] != 0 || head[1] != 0)
    fail("{}: wrong magic number 0x{:08x}: not an IDX file (expected 0x000008NN)", where, magic);
  if (head[2] != 0x08)
    fail("{}: unsupported IDX element type 0x{:02x} (only 0x08, unsigned byte, is supported)",
         where, head[2]);
  const int ndims = head[3];
  if (ndims < 1 || ndims > 4)
    fail("{}: implausible number of dimensions {} (expected 1 to 4)", where, ndims);

  uint8_t dimbuf[16];
  if (gz_read(f.get(), dimbuf, size_t(4) * ndims, where) < size_t(4) * ndims)
    fail("{}: truncated inside the header ({} dimensions announced)", where, ndims);
  size_t payload = 1;
  for (int d = 0; d < ndims; ++d) {
    uint32_t n = be32(dimbuf + 4 * d);
    if (n == 0) fail("{}: dimension {} is zero", where, d);
    if (payload > max_bytes / n)
      fail("{}: header announces an absurd size (dimension {} = {}): more than {} bytes", where, d,
           n, max_bytes);
    payload *= n;
    out.dims.push_back(n);
  }
  const size_t header = 4 + size_t(4) * ndims;
  if (!compressed && file_size != header + payload) {
    if (file_size < header + payload)
      fail("{}: truncated: header announces {} data bytes, file holds {}", where, payload,
           file_size - header);
    fail("{}: {} unexpected bytes after the {} data bytes the header announces", where,
         file_size - header - payload, payload);
  }

  // Grow the buffer only with bytes actually read, so a lying gzip header cannot make us allocate.
  constexpr size_t kChunk = size_t(1) << 22;
  size_t have = 0;
  while (have < payload) {
    size_t want = std::min(kChunk, payload - have);
    out.data.resize(have + want);
    size_t got = gz_read(f.get(), out.data.data() + have, want, where);
    have += got;
    if (got < want) {
      fail("{}: truncated: header announces {} data bytes, the file holds {}", where, payload,
           have);
    }
  }
  uint8_t extra;
  if (gz_read(f.get(), &extra, 1, where) != 0)
    fail("{}: unexpected bytes after the {} data bytes the header announces", where, payload);
  // zlib reports a stream that ends early (its CRC-32 and length trailer missing) only through
  // gzerror: the bytes read so far look complete.
  int errnum = Z_OK;
  const char* msg = gzerror(f.get(), &errnum);
  if (errnum != Z_OK)
    fail("{}: the compressed stream does not end properly ({}): truncated or corrupt", where,
         msg ? msg : "zlib error");
  return out;
}

void write_idx(const std::string& path, const std::vector<uint32_t>& dims,
               const std::vector<uint8_t>& data, bool gzip) {
  std::vector<uint8_t> bytes = {0, 0, 0x08, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims) {
    bytes.push_back(uint8_t(d >> 24));
    bytes.push_back(uint8_t(d >> 16));
    bytes.push_back(uint8_t(d >> 8));
    bytes.push_back(uint8_t(d));
  }
  bytes.insert(bytes.end(), data.begin(), data.end());
  GzPtr f(gzopen(path.c_str(), gzip ? "wb" : "wbT"));
  if (!f) fail("{}: cannot open for writing", absolute_path(path));
  if (gzwrite(f.get(), bytes.data(), static_cast<unsigned>(bytes.size())) != int(bytes.size()))
    fail("{}: write failed", absolute_path(path));
}

}  // namespace rnnmft
