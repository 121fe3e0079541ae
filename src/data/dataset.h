// Image classification data sets as the sequence tasks see them: uint8 pixels, interleaved
// channels (HWC), one label byte per example, and the absolute paths of the files read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace rnnmft {

struct ImageSet {
  size_t count = 0;
  int rows = 0, cols = 0, channels = 0;
  std::vector<uint8_t> pixels;  // count × rows × cols × channels
  std::vector<uint8_t> labels;  // count
  std::vector<std::string> files;

  size_t image_size() const { return size_t(rows) * cols * channels; }
  const uint8_t* image(size_t i) const { return pixels.data() + i * image_size(); }
};

struct Dataset {
  std::string name;  // "mnist", "fashion-mnist", "cifar10"
  int num_classes = 10;
  std::vector<std::string> class_names;
  ImageSet train, test;
};

// Names accepted by load_dataset (and by `--dataset`).
const std::vector<std::string>& dataset_names();

// Canonical name for a user-supplied one ("fashion" → "fashion-mnist", "cifar" → "cifar10");
// throws for unknown names.
std::string canonical_dataset_name(const std::string& name);

// The data directory: explicit argument if non-empty, else $RNNMFT_DATA_DIR, else the cache
// `.data/` inside the source checkout.
std::string resolve_data_dir(const std::string& explicit_dir = "");

// Where a data set's files are looked for, in order (docs/tasks.md §Files).
std::vector<std::string> dataset_search_dirs(const std::string& name, const std::string& data_dir);

// Loads both splits, checking every file strictly; throws rnnmft::Error naming file and fault.
Dataset load_dataset(const std::string& name, const std::string& data_dir);

// load_dataset shared within the process: the runs of a packed sweep (one thread each) hold one
// copy of each data set, which lives while any of them uses it.
std::shared_ptr<const Dataset> shared_dataset(const std::string& name, const std::string& data_dir);

// Loaders for one directory each (no search).
Dataset load_mnist_like(const std::string& name, const std::string& dir);
Dataset load_cifar10(const std::string& dir);

// Pairs an IDX image file with its label file (counts agree, labels < num_classes).
ImageSet make_idx_image_set(const std::string& images_path, const std::string& labels_path,
                            int num_classes);

}  // namespace rnnmft
