#!/usr/bin/env bash
# A CNN in the relu(max_pool2d(conv(x))) style of PyTorch models (ReLU after each MaxPool;
# tests/data/pool-relu-cnn.onnx, written by tools/gen-test-onnx.py, random weights): it imports,
# `prove` gives the `model run` output, the proof verifies with the model and with the exported
# vk, and a changed output value or input value makes verify fail.
source "$(dirname "$0")/lib.sh"
M="$WORK/prc.eml"
IN="$SRC/examples/sample-input.json"

expect_ok "import" "$BIN" model import "$SRC/tests/data/pool-relu-cnn.onnx" -o "$M"
expect_ok "info" "$BIN" model info "$M"
grep -qE '^ +2 +relu +relu1' "$WORK/out" && ok "the ReLU after pool1 is its own layer" \
  || bad "the ReLU after pool1 is its own layer: $(grep relu1 "$WORK/out")"
expect_ok "export-vk" "$BIN" model export-vk "$M" -o "$WORK/m.vk"
expect_ok "prove" "$BIN" prove "$M" --input "$IN" --proof "$WORK/p.bin" --output "$WORK/o.json" \
  --nonce 0c0d --node-id w-pool-relu
expect_ok "model run" "$BIN" model run "$M" --input "$IN" --output "$WORK/run.json"
$PY -c 'import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); assert a==b' \
  "$WORK/o.json" "$WORK/run.json" && ok "prove output == model run output" || bad "prove output == model run output"

V=(--input "$IN" --proof "$WORK/p.bin" --nonce 0c0d --node-id w-pool-relu)
expect_ok "verify with model" "$BIN" verify --model "$M" "${V[@]}" --output "$WORK/o.json"
grep -q '^verified' "$WORK/out" && ok "prints verified" || bad "prints verified"
expect_ok "verify with vk" "$BIN" verify --vk "$WORK/m.vk" "${V[@]}" --output "$WORK/o.json"

bump_output "$WORK/o.json" "$WORK/t.json" 3
expect_fail "changed output" "." "$BIN" verify --vk "$WORK/m.vk" "${V[@]}" --output "$WORK/t.json"
flip_input "$IN" "$WORK/in2.json" 10
expect_fail "changed input" "." "$BIN" verify --vk "$WORK/m.vk" --input "$WORK/in2.json" --proof "$WORK/p.bin" \
  --nonce 0c0d --node-id w-pool-relu --output "$WORK/o.json"
finish
