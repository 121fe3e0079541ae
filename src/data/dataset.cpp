#include "data/dataset.h"

#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>

#include "data/cifar.h"
#include "data/idx.h"
#include "util/error.h"

namespace fs = std::filesystem;

namespace rnnmft {
namespace {

const std::vector<std::string> kMnistClasses = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
const std::vector<std::string> kFashionClasses = {"T-shirt/top", "Trouser",   "Pullover", "Dress",
                                                  "Coat",        "Sandal",    "Shirt",    "Sneaker",
                                                  "Bag",         "Ankle boot"};
const std::vector<std::string> kCifarClasses = {"airplane", "automobile", "bird",  "cat",  "deer",
                                                "dog",      "frog",       "horse", "ship", "truck"};

// Debian's dataset-fashion-mnist installs the gzip IDX files here.
constexpr const char* kDebianFashionDir = "/usr/share/datasets/fashion-mnist";

// "train-images-idx3-ubyte" or its ".gz" form, whichever exists (plain first).
std::string find_idx(const std::string& dir, const std::string& stem) {
  for (const char* suffix : {"", ".gz"}) {
    std::string p = (fs::path(dir) / (stem + suffix)).string();
    if (fs::is_regular_file(p)) return p;
  }
  return "";
}

bool has_mnist_files(const std::string& dir) {
  return !find_idx(dir, "train-images-idx3-ubyte").empty();
}

bool has_cifar_files(const std::string& dir) {
  return fs::is_regular_file(fs::path(dir) / "data_batch_1.bin") ||
         fs::is_regular_file(fs::path(dir) / "test_batch.bin");
}

}  // namespace

const std::vector<std::string>& dataset_names() {
  static const std::vector<std::string> names = {"mnist", "fashion-mnist", "cifar10"};
  return names;
}

std::string canonical_dataset_name(const std::string& name) {
  if (name == "mnist") return "mnist";
  if (name == "fashion-mnist" || name == "fashion" || name == "fmnist") return "fashion-mnist";
  if (name == "cifar10" || name == "cifar" || name == "cifar-10") return "cifar10";
  fail("unknown dataset '{}' (expected one of: mnist, fashion-mnist, cifar10)", name);
}

std::string resolve_data_dir(const std::string& explicit_dir) {
  if (!explicit_dir.empty()) return absolute_path(explicit_dir);
  if (const char* env = std::getenv("RNNMFT_DATA_DIR"); env && *env) return absolute_path(env);
  return absolute_path(std::string(RNNMFT_SOURCE_DIR) + "/.data");
}

std::vector<std::string> dataset_search_dirs(const std::string& name, const std::string& data_dir) {
  const std::string n = canonical_dataset_name(name);
  const fs::path d(data_dir);
  if (n == "mnist") return {(d / "mnist").string()};
  if (n == "fashion-mnist") return {(d / "fashion-mnist").string(), kDebianFashionDir};
  return {(d / "cifar10").string(), (d / "cifar-10-batches-bin").string()};
}

ImageSet make_idx_image_set(const std::string& images_path, const std::string& labels_path,
                            int num_classes) {
  IdxArray images = read_idx(images_path);
  if (images.dims.size() != 3)
    fail("{}: expected a 3-dimensional image file (count × rows × cols), found {} dimensions",
         images.path, images.dims.size());
  // Labels need at most one byte per example: cap what the header may announce.
  IdxArray labels = read_idx(labels_path, size_t(images.dims[0]) + 16);
  if (labels.dims.size() != 1)
    fail("{}: expected a 1-dimensional label file, found {} dimensions", labels.path,
         labels.dims.size());
  if (labels.dims[0] != images.dims[0])
    fail("{} holds {} labels but {} holds {} images", labels.path, labels.dims[0], images.path,
         images.dims[0]);
  for (size_t i = 0; i < labels.data.size(); ++i)
    if (labels.data[i] >= num_classes)
      fail("{}: label {} at index {} is outside 0–{}", labels.path, int(labels.data[i]), i,
           num_classes - 1);
  ImageSet set;
  set.count = images.dims[0];
  set.rows = int(images.dims[1]);
  set.cols = int(images.dims[2]);
  set.channels = 1;
  set.pixels = std::move(images.data);
  set.labels = std::move(labels.data);
  set.files = {images.path, labels.path};
  return set;
}

Dataset load_mnist_like(const std::string& name, const std::string& dir) {
  Dataset ds;
  ds.name = canonical_dataset_name(name);
  ds.class_names = ds.name == "mnist" ? kMnistClasses : kFashionClasses;
  auto need = [&](const std::string& stem) {
    std::string p = find_idx(dir, stem);
    if (p.empty())
      fail("{}: missing {} (or {}.gz) for dataset {}", absolute_path(dir), stem, stem, ds.name);
    return p;
  };
  // Looked up in a fixed order, so the first missing file is the one reported.
  const std::string train_images = need("train-images-idx3-ubyte");
  const std::string train_labels = need("train-labels-idx1-ubyte");
  const std::string test_images = need("t10k-images-idx3-ubyte");
  const std::string test_labels = need("t10k-labels-idx1-ubyte");
  ds.train = make_idx_image_set(train_images, train_labels, ds.num_classes);
  ds.test = make_idx_image_set(test_images, test_labels, ds.num_classes);
  if (ds.train.rows != ds.test.rows || ds.train.cols != ds.test.cols)
    fail("{}: training images are {}×{} but test images are {}×{}", absolute_path(dir),
         ds.train.rows, ds.train.cols, ds.test.rows, ds.test.cols);
  return ds;
}

Dataset load_cifar10(const std::string& dir) {
  Dataset ds;
  ds.name = "cifar10";
  ds.class_names = kCifarClasses;
  for (int b = 1; b <= 5; ++b)
    append_cifar_batch((fs::path(dir) / fmt::format("data_batch_{}.bin", b)).string(), ds.train);
  append_cifar_batch((fs::path(dir) / "test_batch.bin").string(), ds.test);
  return ds;
}

std::shared_ptr<const Dataset> shared_dataset(const std::string& name,
                                              const std::string& data_dir) {
  static std::mutex mu;
  static std::map<std::pair<std::string, std::string>, std::weak_ptr<const Dataset>> loaded;
  const auto key = std::make_pair(canonical_dataset_name(name), data_dir);
  std::lock_guard<std::mutex> lock(mu);  // the others wait for the one load
  if (auto p = loaded[key].lock()) return p;
  auto p = std::make_shared<const Dataset>(load_dataset(name, data_dir));
  loaded[key] = p;
  return p;
}

Dataset load_dataset(const std::string& name, const std::string& data_dir) {
  const std::string n = canonical_dataset_name(name);
  const auto dirs = dataset_search_dirs(n, data_dir);
  for (const auto& dir : dirs) {
    if (n == "cifar10" ? has_cifar_files(dir) : has_mnist_files(dir))
      return n == "cifar10" ? load_cifar10(dir) : load_mnist_like(n, dir);
  }
  std::string looked;
  for (const auto& d : dirs) looked += "\n  " + absolute_path(d);
  if (n == "cifar10")
    fail(
        "dataset cifar10 not found; looked in:{}\nCIFAR-10 cannot be downloaded by rnnmft: put the "
        "binary version's data_batch_1.bin … data_batch_5.bin and test_batch.bin in one of these "
        "directories, or name another data directory with --data-dir or RNNMFT_DATA_DIR",
        looked);
  fail(
      "dataset {} not found; looked in:{}\nrun ./scripts/fetch_data.sh (or ./run.sh) to fetch it, "
      "or name the directory holding it with --data-dir or RNNMFT_DATA_DIR",
      n, looked);
}

}  // namespace rnnmft
