// `rnnmft data info` and `rnnmft data show`.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/glyphs.h"
#include "data/dataset.h"
#include "util/error.h"
#include "util/png_writer.h"

namespace rnnmft::cli {
namespace {

using nlohmann::json;

json split_summary(const ImageSet& s, int num_classes) {
  std::vector<size_t> counts(num_classes, 0);
  for (uint8_t l : s.labels) counts[l]++;
  double sum = 0, sum2 = 0;
  uint8_t lo = 255, hi = 0;
  for (uint8_t p : s.pixels) {
    sum += p;
    sum2 += double(p) * p;
    lo = std::min(lo, p);
    hi = std::max(hi, p);
  }
  const double n = double(std::max<size_t>(s.pixels.size(), 1));
  const double mean = sum / n / 255.0;
  const double var = std::max(sum2 / n / (255.0 * 255.0) - mean * mean, 0.0);
  return json{{"count", s.count},
              {"shape", {s.rows, s.cols, s.channels}},
              {"class_counts", counts},
              {"pixel_mean", mean},
              {"pixel_std", std::sqrt(var)},
              {"pixel_min", lo / 255.0},
              {"pixel_max", hi / 255.0},
              {"first_labels", std::vector<int>(s.labels.begin(),
                                                s.labels.begin() + std::min<size_t>(10, s.count))},
              {"files", s.files}};
}

void print_summary(const json& d) {
  fmt::print("{}\n", d["name"].get<std::string>());
  for (const char* split : {"train", "test"}) {
    const json& s = d[split];
    auto shape = s["shape"].get<std::vector<int>>();
    fmt::print(
        "  {:5}  {:6} examples of {}×{}×{}   pixels in [0,1]: mean {:.4f}  std {:.4f}  "
        "min {:.3f}  max {:.3f}\n",
        split, s["count"].get<size_t>(), shape[0], shape[1], shape[2],
        s["pixel_mean"].get<double>(), s["pixel_std"].get<double>(), s["pixel_min"].get<double>(),
        s["pixel_max"].get<double>());
    auto counts = s["class_counts"].get<std::vector<size_t>>();
    const auto names = d["classes"].get<std::vector<std::string>>();
    std::string line;
    for (size_t c = 0; c < counts.size(); ++c)
      line += fmt::format("{}{}:{}", c ? "  " : "", names[c], counts[c]);
    fmt::print("         classes  {}\n", line);
    for (const auto& f : s["files"]) fmt::print("         file     {}\n", f.get<std::string>());
  }
}

bool dataset_present(const std::string& name, const std::string& data_dir) {
  namespace fs = std::filesystem;
  for (const auto& dir : dataset_search_dirs(name, data_dir)) {
    if (name == "cifar10") {
      if (fs::exists(fs::path(dir) / "data_batch_1.bin") ||
          fs::exists(fs::path(dir) / "test_batch.bin"))
        return true;
    } else if (fs::exists(fs::path(dir) / "train-images-idx3-ubyte") ||
               fs::exists(fs::path(dir) / "train-images-idx3-ubyte.gz")) {
      return true;
    }
  }
  return false;
}

int run_info(const std::string& dataset, const std::string& data_dir_flag, bool as_json) {
  const std::string data_dir = resolve_data_dir(data_dir_flag);
  std::vector<std::string> names;
  const bool all = dataset.empty() || dataset == "all";
  if (all)
    names = dataset_names();
  else
    names = {canonical_dataset_name(dataset)};
  json out = {{"data_dir", data_dir}, {"datasets", json::array()}, {"unavailable", json::object()}};
  for (const auto& name : names) {
    // With no --dataset, a data set that is simply absent (CIFAR-10 usually) is reported, not
    // fatal; one that is present but malformed always is.
    if (all && !dataset_present(name, data_dir)) {
      std::string why;
      try {
        load_dataset(name, data_dir);
      } catch (const Error& e) {
        why = e.what();
      }
      out["unavailable"][name] = why;
      continue;
    }
    Dataset ds = load_dataset(name, data_dir);
    json d = {{"name", ds.name}, {"classes", ds.class_names}};
    d["train"] = split_summary(ds.train, ds.num_classes);
    d["test"] = split_summary(ds.test, ds.num_classes);
    out["datasets"].push_back(d);
  }
  if (as_json) {
    fmt::print("{}\n", out.dump(2));
  } else {
    fmt::print("data directory: {}\n\n", data_dir);
    for (const auto& d : out["datasets"]) {
      print_summary(d);
      fmt::print("\n");
    }
    for (auto& [name, why] : out["unavailable"].items())
      fmt::print("{}: not available\n  {}\n\n", name, why.get<std::string>());
  }
  if (out["datasets"].empty()) fail("no dataset could be loaded from {}", data_dir);
  return 0;
}

// Writes `text` (printable ASCII; anything else drawn as '?') with its top-left corner at (x, y),
// blending the font's coverage into the background.
void draw_text(RgbImage& img, int x, int y, const std::string& text, uint8_t r = 20,
               uint8_t g = 20, uint8_t b = 20) {
  for (const char ch : text) {
    const int c = (ch >= 32 && ch <= 126) ? ch - 32 : '?' - 32;
    const char* glyph = kGlyphs[c];
    for (int gy = 0; gy < kGlyphH; ++gy)
      for (int gx = 0; gx < kGlyphW; ++gx) {
        const char h = glyph[gy * kGlyphW + gx];
        const int a = h >= 'a' ? h - 'a' + 10 : h - '0';
        const int px = x + gx, py = y + gy;
        if (a == 0 || px < 0 || py < 0 || px >= img.width || py >= img.height) continue;
        uint8_t* p = &img.pixels[(size_t(py) * img.width + px) * 3];
        p[0] = uint8_t((p[0] * (15 - a) + r * a) / 15);
        p[1] = uint8_t((p[1] * (15 - a) + g * a) / 15);
        p[2] = uint8_t((p[2] * (15 - a) + b * a) / 15);
      }
    x += kGlyphW;
  }
}

int text_width(const std::string& text) { return int(text.size()) * kGlyphW; }

// A round tick spacing (1, 2 or 5 × 10^k) giving at most `max_ticks` ticks over [0, span).
int tick_step(int span, int max_ticks) {
  for (int p = 1;; p *= 10)
    for (const int m : {1, 2, 5})
      if (span <= int64_t(m) * p * max_ticks) return m * p;
}

// The image on the left (upscaled, with its size), the sequence on the right with time running
// left to right, wrapped into lines of at most 784 steps, each line labelled with its steps; a
// one-input sequence is drawn as a signal (bar height = value), a wider one as a heatmap (one
// row per input, grey level = value); padding steps are tinted blue. A title, the axes' labels
// and a legend say what is drawn.
void draw_example(const Task& task, Split split, size_t index, const std::string& path) {
  const ImageSet& set = split == Split::Test ? task.dataset().test : task.dataset().train;
  const size_t fi = task.file_index(split, index);
  const uint8_t* img = set.image(fi);
  const int T = task.seq_len(), I = task.input_dim();
  std::vector<float> seq(size_t(T) * I);
  const int label = task.example(split, index, seq.data());
  const auto [lo_it, hi_it] = std::minmax_element(seq.begin(), seq.end());
  const float lo = *lo_it, hi = std::max(*hi_it, lo + 1e-6f);

  const int scale = std::max(1, 224 / std::max(set.rows, set.cols));
  const int img_w = set.cols * scale, img_h = set.rows * scale;
  const int wrap = std::min(T, 784);
  const int step_px = std::max(1, 784 / wrap);
  const int band_px = I == 1 ? 60 : std::max(1, 112 / I);
  const int band_h = I == 1 ? band_px : I * band_px;
  const int lines = (T + wrap - 1) / wrap;
  const int line_gap = I == 1 ? 8 : 10;
  const int seq_w = wrap * step_px, seq_h = lines * band_h + (lines - 1) * line_gap;
  const int margin = 10, row = kGlyphH + 3;

  // Line labels ("steps 0-783") left of the sequence, value labels right of it.
  std::vector<std::string> line_labels;
  int label_w = 0;
  for (int l = 0; l < lines; ++l) {
    line_labels.push_back(
        fmt::format("steps {}-{}", l * wrap, std::min(T, (l + 1) * wrap) - 1));
    label_w = std::max(label_w, text_width(line_labels.back()));
  }
  const std::string hi_s = fmt::format("{:.3g}", hi), lo_s = fmt::format("{:.3g}", lo);
  const std::string top_s = I == 1 ? hi_s : "input 0";
  const std::string bottom_s = I == 1 ? lo_s : fmt::format("input {}", I - 1);
  const int right_w = std::max(text_width(top_s), text_width(bottom_s)) + 8;

  const std::string title = fmt::format(
      "{}, {} example {} (file index {}): label {} ({})", task.options().name, split_name(split),
      index, fi, label, task.dataset().class_names[label]);
  const std::string subtitle = fmt::format(
      "left: the image; right: the sequence the network reads, {} steps x {} input{}, time "
      "left to right",
      T, I, I == 1 ? "" : "s");
  const std::string axis_s = lines > 1 ? "time step within the line (each line continues the one above)"
                                       : "time step";
  const std::string legend_value =
      I == 1 ? fmt::format("bar height: the input's value ({} to {})", lo_s, hi_s)
             : fmt::format("grey level: the input's value (black {} to white {})", lo_s, hi_s);
  const std::string legend_pad = "padding step (input 0)";

  const int top = margin + 2 * row + 6;
  const int x_img = margin, x_seq = x_img + img_w + 2 * margin + label_w + 6;
  const int axis_y = top + seq_h + 4;
  const int legend_y = axis_y + 6 + row + row + 4;
  const int width = std::max({x_seq + seq_w + right_w + margin, margin + text_width(title) + margin,
                              margin + text_width(subtitle) + margin,
                              x_seq + text_width(legend_value) + margin});
  const int height = std::max(top + img_h + row + 4, legend_y + 2 * row) + margin;
  RgbImage out(width, height, 255);

  draw_text(out, margin, margin, title);
  draw_text(out, margin, margin + row, subtitle, 90, 90, 90);
  for (int y = 0; y < set.rows; ++y)
    for (int x = 0; x < set.cols; ++x) {
      const uint8_t* p = img + (size_t(y) * set.cols + x) * set.channels;
      uint8_t r = p[0], g = set.channels == 3 ? p[1] : p[0], b = set.channels == 3 ? p[2] : p[0];
      out.fill_rect(x_img + x * scale, top + y * scale, scale, scale, r, g, b);
    }
  draw_text(out, x_img, top + img_h + 4, fmt::format("image {} x {}", set.rows, set.cols), 90, 90,
            90);

  for (int t = 0; t < T; ++t) {
    const int x = x_seq + (t % wrap) * step_px, y = top + (t / wrap) * (band_h + line_gap);
    const bool pad = task.is_padding(t);
    if (I == 1) {
      const float v = std::clamp((seq[t] - lo) / (hi - lo), 0.f, 1.f);
      const int bar = static_cast<int>(std::lround(v * band_h));
      if (pad)
        out.fill_rect(x, y, step_px, band_h, 200, 215, 255);
      else
        out.fill_rect(x, y, step_px, band_h, 235, 235, 235);
      out.fill_rect(x, y + band_h - bar, step_px, bar, 20, 20, 20);
      continue;
    }
    for (int i = 0; i < I; ++i) {
      const float v = (seq[size_t(t) * I + i] - lo) / (hi - lo);
      const auto g = static_cast<uint8_t>(std::lround(255 * std::clamp(v, 0.f, 1.f)));
      out.fill_rect(x, y + i * band_px, step_px, band_px, pad ? 0 : g, pad ? 40 : g, pad ? 120 : g);
    }
  }
  for (int l = 0; l < lines; ++l) {
    const int y = top + l * (band_h + line_gap);
    draw_text(out, x_seq - 6 - text_width(line_labels[l]), y + (band_h - kGlyphH) / 2,
              line_labels[l]);
  }
  // The value axis of the first line: its top and bottom.
  out.fill_rect(x_seq + seq_w + 1, top, 1, band_h, 20, 20, 20);
  draw_text(out, x_seq + seq_w + 5, top - 3, top_s);
  draw_text(out, x_seq + seq_w + 5, top + band_h - kGlyphH + 3, bottom_s);
  // The time axis: ticks at round steps within a line.
  out.fill_rect(x_seq, axis_y, seq_w, 1, 20, 20, 20);
  const int dt = tick_step(wrap, std::max(2, seq_w / 90));
  for (int t = 0; t < wrap; t += dt) {
    const int x = x_seq + t * step_px;
    out.fill_rect(x, axis_y, 1, 5, 20, 20, 20);
    const std::string s = std::to_string(t);
    draw_text(out, std::min(x - text_width(s) / 2, x_seq + seq_w - text_width(s)), axis_y + 6, s);
  }
  draw_text(out, x_seq + (seq_w - text_width(axis_s)) / 2, axis_y + 6 + row, axis_s);
  // Legend.
  bool any_pad = false;
  for (int t = 0; t < T && !any_pad; ++t) any_pad = task.is_padding(t);
  draw_text(out, x_seq, legend_y, legend_value);
  if (any_pad) {
    const int ly = legend_y + row;
    out.fill_rect(x_seq, ly + 3, 14, 10, I == 1 ? 200 : 0, I == 1 ? 215 : 40, I == 1 ? 255 : 120);
    draw_text(out, x_seq + 20, ly, legend_pad);
  }
  write_png(path, out);
}

}  // namespace

void add_task_flags(CLI::App* cmd, TaskFlags& f, bool task_required) {
  auto* t = cmd->add_option("--task", f.options.name,
                            "Task <dataset>-<kind>: dataset mnist|fashion|cifar10, kind "
                            "pixel|row|padded|repeat (docs/tasks.md)");
  if (task_required) t->required();
  cmd->add_option("--seq-len", f.options.seq_len, "Padded tasks: total length T (default 1000)");
  cmd->add_flag("--pad-front", f.options.pad_front, "Padded tasks: zeros before the image");
  cmd->add_option("--unit", f.options.unit, "Padded/repeat tasks: base step, pixel or row")
      ->check(CLI::IsMember({"pixel", "row"}));
  cmd->add_option("--repeat", f.options.repeat, "Repeat tasks: copies of each step")
      ->capture_default_str();
  cmd->add_option("--permute", f.permute, "Permute the base steps with this seed")
      ->check(non_negative());
  cmd->add_flag("--standardize", f.options.standardize,
                "Standardize by the training file's per-channel mean and std");
  cmd->add_option("--val-size", f.options.val_size, "Validation examples held out of training")
      ->capture_default_str();
  cmd->add_option("--split-seed", f.options.split_seed, "Seed choosing the validation examples")
      ->check(non_negative())
      ->capture_default_str();
  cmd->add_option("--data-dir", f.data_dir, "Data directory (default $RNNMFT_DATA_DIR or .data/)");
}

Task make_task(const TaskFlags& f) {
  TaskOptions o = f.options;
  if (f.permute >= 0) o.permute = uint64_t(f.permute);
  auto [ds, kind] = parse_task_name(o.name);
  (void)kind;
  auto data = std::make_shared<const Dataset>(load_dataset(ds, resolve_data_dir(f.data_dir)));
  return Task(data, o);
}

void register_data(CLI::App& app) {
  auto* data = app.add_subcommand("data", "Inspect the data sets and sequence tasks");
  data->require_subcommand(1);

  struct InfoArgs {
    std::string dataset, data_dir;
    bool json = false;
  };
  auto info_args = std::make_shared<InfoArgs>();
  auto* info =
      data->add_subcommand("info", "Counts, shapes, class balance, pixel statistics, files");
  info->add_option("--dataset", info_args->dataset, "mnist, fashion-mnist, cifar10 (default: all)");
  info->add_option("--data-dir", info_args->data_dir,
                   "Data directory (default $RNNMFT_DATA_DIR or .data/ in the checkout)");
  info->add_flag("--json", info_args->json, "Print JSON");
  info->callback(
      [info_args] { run_info(info_args->dataset, info_args->data_dir, info_args->json); });

  struct ShowArgs {
    TaskFlags task;
    std::string split = "train", out;
    size_t index = 0;
  };
  auto show_args = std::make_shared<ShowArgs>();
  auto* show = data->add_subcommand("show", "Draw one example as an image and as its sequence");
  add_task_flags(show, show_args->task);
  show->add_option("--index", show_args->index, "Example index within the split (file order)")
      ->check(non_negative())
      ->capture_default_str();
  show->add_option("--split", show_args->split, "train, val or test")->capture_default_str();
  show->add_option("-o,--output", show_args->out, "PNG file to write")->required();
  show->callback([show_args] {
    const Task task = make_task(show_args->task);
    const Split split = parse_split(show_args->split);
    draw_example(task, split, show_args->index, show_args->out);
    std::vector<float> seq(size_t(task.seq_len()) * task.input_dim());
    const int label = task.example(split, show_args->index, seq.data());
    fmt::print(
        "{} {} example {} (file index {}): label {} ({}), sequence {} steps × {} inputs\n"
        "wrote {}\n",
        task.options().name, split_name(split), show_args->index,
        task.file_index(split, show_args->index), label, task.dataset().class_names[label],
        task.seq_len(), task.input_dim(), absolute_path(show_args->out));
  });
}

}  // namespace rnnmft::cli
