// Weights files checked before anything is allocated or written: a header that announces a model
// the file cannot hold or the run does not have, a JSON file given as weights, NaN weights on
// export, an output path that cannot be written.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>

#include "../data/temp_dir.h"
#include "cells/rnn_model.h"
#include "train/safetensors.h"
#include "train/weights_io.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace rnnmft {
namespace {

using testing::expect_error;
using testing::TempDir;

ModelConfig lstm(int hidden) { return {CellType::Lstm, GruVariant::ResetAfter, 1, hidden, 10}; }

TEST(WeightsChecks, HeaderOnlyAgainstTheRun) {
  TempDir dir;
  RnnModel<float> m(lstm(8));
  write_safetensors(dir.file("w.safetensors"), export_weights(m));
  EXPECT_NO_THROW(check_weights_file(dir.file("w.safetensors"), lstm(8)));
  EXPECT_TRUE(is_weights_init(dir.file("w.safetensors")));
  EXPECT_FALSE(is_weights_init("pytorch"));
  expect_error([&] { check_weights_file(dir.file("w.safetensors"), lstm(16384)); },
               {"w.safetensors", "weights are for lstm (hidden 8,",
                "the run is lstm (hidden 16384, input 1, classes 10)"});
  ModelConfig gru = lstm(8);
  gru.cell = CellType::Gru;
  expect_error([&] { check_weights_file(dir.file("w.safetensors"), gru); },
               {"the run is gru (hidden 8, input 1, classes 10, reset-after)"});
  // Header only: the tensors' bytes are not read.
  const SafeTensors h = read_safetensors(dir.file("w.safetensors"), false);
  EXPECT_TRUE(h.tensors.at("rnn.weight_hh_l0").bytes.empty());
  EXPECT_EQ(h.tensors.at("rnn.weight_hh_l0").shape, (std::vector<int64_t>{32, 8}));
}

TEST(WeightsChecks, SmallFileAnnouncingAHugeModel) {
  // 16384 hidden units announced by a header whose data cannot be in the file: refused from the
  // header, before a model is allocated.
  TempDir dir;
  const std::string h =
      R"({"__metadata__":{"cell":"lstm"},"rnn.weight_hh_l0":{"dtype":"F32","shape":[65536,16384],)"
      R"("data_offsets":[0,4294967296]}})";
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[size_t(i)] = char((h.size() >> (8 * i)) & 0xff);
  std::ofstream(dir.file("big.safetensors"), std::ios::binary)
      << bytes << h << std::string(300, '\0');
  expect_error([&] { check_weights_file(dir.file("big.safetensors"), lstm(16384)); },
               {"big.safetensors", "data offsets outside the file"});
}

TEST(WeightsChecks, JsonGivenAsWeights) {
  TempDir dir;
  std::ofstream(dir.file("spec.json")) << "{\"cell\": \"gru\", \"gates\": {}}\n";
  expect_error([&] { read_safetensors(dir.file("spec.json")); },
               {"spec.json", "not a safetensors file: it begins like JSON text", "--init"});
  std::ofstream(dir.file("junk.bin")) << "\xff\xff\xff\xff\xff\xff\xff\x7f and more";
  expect_error([&] { read_safetensors(dir.file("junk.bin")); },
               {"not a safetensors file: header length"});
}

TEST(WeightsChecks, ExportRefusesNonFiniteWeightsNamingTheTensor) {
  RnnModel<float> m(lstm(8));
  EXPECT_NO_THROW(export_weights(m));
  m.params()[m.layout().w_hh + 3] = std::numeric_limits<float>::quiet_NaN();
  expect_error([&] { export_weights(m); }, {"tensor 'rnn.weight_hh_l0' holds nan at element 3"});
  m.params()[m.layout().w_hh + 3] = 0;
  m.params()[m.layout().b_head] = INFINITY;
  expect_error([&] { export_weights(m); }, {"tensor 'head.bias' holds inf"});
}

TEST(WeightsChecks, UnwritableOutputNamesThePathGiven) {
  expect_error([] { write_file_atomic("/nonexistent/x.safetensors", "abc"); },
               {"/nonexistent/x.safetensors: cannot write (No such file or directory)"});
  try {
    write_file_atomic("/nonexistent/x.safetensors", "abc");
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).find(".tmp."), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace rnnmft
