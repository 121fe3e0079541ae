#!/usr/bin/env bash
# End-to-end checks of the rnnmft program: bad input gives a clear message and a non-zero exit,
# good input gives the promised outputs. Usage: test_cli.sh PATH/TO/rnnmft
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$1"

expect_fail "missing data dir" "dataset mnist not found" "$BIN" data info --dataset mnist --data-dir "$tmp/none"
expect_fail "unknown dataset" "unknown dataset 'svhn'" "$BIN" data info --dataset svhn
expect_fail "no subcommand" "subcommand" "$BIN"

# A tiny valid MNIST-like directory and a CIFAR-10 directory the test writes.
mkdir -p "$tmp/ok/mnist" "$tmp/ok/cifar10"
for split in train t10k; do
  printf '\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x1c\x00\x00\x00\x1c' > "$tmp/ok/mnist/$split-images-idx3-ubyte"
  head -c 1568 /dev/urandom >> "$tmp/ok/mnist/$split-images-idx3-ubyte"
  printf '\x00\x00\x08\x01\x00\x00\x00\x02\x03\x04' > "$tmp/ok/mnist/$split-labels-idx1-ubyte"
done
for b in data_batch_1 data_batch_2 data_batch_3 data_batch_4 data_batch_5 test_batch; do
  { printf '\x06'; head -c 3072 /dev/urandom; printf '\x02'; head -c 3072 /dev/urandom; } > "$tmp/ok/cifar10/$b.bin"
done
export RNNMFT_DATA_DIR="$tmp/ok"
# A corrupt copy: a label file with the wrong magic number, then a truncated image file.
cp -r "$tmp/ok" "$tmp/bad"
printf 'garbage!' > "$tmp/bad/mnist/train-labels-idx1-ubyte"
expect_fail "corrupt label file" "train-labels-idx1-ubyte: wrong magic number 0x67617262" "$BIN" data info --data-dir "$tmp/bad"
cp "$tmp/ok/mnist/train-labels-idx1-ubyte" "$tmp/bad/mnist/"; head -c 100 "$tmp/ok/mnist/t10k-images-idx3-ubyte" > "$tmp/bad/mnist/t10k-images-idx3-ubyte"
expect_fail "truncated image file" "t10k-images-idx3-ubyte: truncated: header announces 1568 data bytes, file holds 84" "$BIN" data info --dataset mnist --data-dir "$tmp/bad"

expect_ok "info via env data dir" "\"count\": 10" "$BIN" data info --dataset cifar10 --json
expect_ok "info lists files" "$tmp/ok/mnist/train-images-idx3-ubyte" "$BIN" data info --dataset mnist
expect_ok "show writes png" "label 3" "$BIN" data show --task mnist-padded --seq-len 900 --val-size 1 --index 0 --split test -o "$tmp/x.png"
[ "$(head -c 4 "$tmp/x.png" | od -An -tx1 | tr -d ' ')" = "89504e47" ] && ok || bad "x.png is not a PNG"
expect_ok "show cifar" "sequence 1024 steps × 3 inputs" "$BIN" data show --task cifar10-pixel --val-size 1 -o "$tmp/c.png"
expect_fail "index out of range" "example 5 is out of range" "$BIN" data show --task mnist-row --val-size 1 --index 5 --split test -o "$tmp/y.png"
expect_fail "seq-len too short" "shorter than the 784 steps" "$BIN" data show --task mnist-padded --seq-len 100 --val-size 1 -o "$tmp/y.png"
expect_fail "unknown task" "unknown kind 'spiral'" "$BIN" data show --task mnist-spiral -o "$tmp/y.png"
[ ! -e "$tmp/y.png" ] && ok || bad "y.png written on error"

finish
