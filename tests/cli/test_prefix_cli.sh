#!/usr/bin/env bash
# Parameter-free ezkl models (docs/PROOFS.md "Public prefix"): `model info` shows a model hash,
# `prove` then `verify` (with the model and with the exported vk) succeed on the model's own
# input.json, and a changed output value, a changed input value or another model's vk fail.
source "$(dirname "$0")/lib.sh"
EZKL=${EM_SHARED_DIR:-$SRC/../shared}/models/ezkl
if [[ ! -d "$EZKL" ]]; then
  echo "  no models under $EZKL: skipped"
  exit 0
fi

for m in 1l_relu 2l_relu_small 1l_flatten 1l_identity 1l_reshape 1l_softmax; do
  M="$WORK/$m.eml"
  IN="$WORK/$m.in.json"
  # ezkl's input.json holds the rows under "input_data"; the CLI reads "data"
  $PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
json.dump({"data": d["input_data"]}, open(sys.argv[2], "w"))' "$EZKL/$m/input.json" "$IN"
  expect_ok "$m: import" "$BIN" model import "$EZKL/$m/network.onnx" -o "$M"
  expect_ok "$m: info" "$BIN" model info "$M"
  grep -qE '^model hash: +[0-9a-f]{64} ' "$WORK/out" && ok "$m: info shows a model hash" \
    || bad "$m: info shows a model hash: $(grep 'model hash' "$WORK/out")"
  expect_ok "$m: export-vk" "$BIN" model export-vk "$M" -o "$WORK/$m.vk"
  expect_ok "$m: prove" "$BIN" prove "$M" --input "$IN" --proof "$WORK/$m.p" --output "$WORK/$m.o.json" \
    --nonce 0a0b --node-id w-prefix
  V=(--input "$IN" --proof "$WORK/$m.p" --nonce 0a0b --node-id w-prefix)
  expect_ok "$m: verify with model" "$BIN" verify --model "$M" "${V[@]}" --output "$WORK/$m.o.json"
  expect_ok "$m: verify with vk" "$BIN" verify --vk "$WORK/$m.vk" "${V[@]}" --output "$WORK/$m.o.json"

  bump_output "$WORK/$m.o.json" "$WORK/t.json" 0
  expect_fail "$m: changed output" "." "$BIN" verify --vk "$WORK/$m.vk" "${V[@]}" --output "$WORK/t.json"
  flip_input "$IN" "$WORK/in2.json" 0
  expect_fail "$m: changed input" "." "$BIN" verify --vk "$WORK/$m.vk" --input "$WORK/in2.json" \
    --proof "$WORK/$m.p" --nonce 0a0b --node-id w-prefix --output "$WORK/$m.o.json"
done

# a proof of 1l_relu checked against 2l_relu_small (same sizes, one ReLU more) and 1l_softmax
# (whose post-processing already disagrees with OUT.json)
for other in "2l_relu_small:another model" "1l_softmax:."; do
  expect_fail "1l_relu proof with ${other%%:*}'s vk" "${other#*:}" "$BIN" verify --vk "$WORK/${other%%:*}.vk" \
    --input "$WORK/1l_relu.in.json" --proof "$WORK/1l_relu.p" --nonce 0a0b --node-id w-prefix \
    --output "$WORK/1l_relu.o.json"
done
finish
