#!/usr/bin/env bash
# The prove/verify CLI contract (issue: proofs of inference): a proof made by `prove` verifies
# with the model or with the exported vk alone; changing any number of OUT.json (result or
# output_q), the input, the nonce or the node id, or using another model's vk, makes verify fail.
source "$(dirname "$0")/lib.sh"
M="$WORK/digits.eml"
IN="$WORK/in.json"
$PY -c '
import json, sys
t = json.load(open(sys.argv[1]))
json.dump({"data": t["data"][:5], "sample_size": 64}, open(sys.argv[2], "w"))' "$SRC/examples/digits/test.json" "$IN"

expect_ok "import" "$BIN" model import "$SRC/examples/digits/model.onnx" -o "$M" \
  --calibration "$SRC/examples/digits/calibration.json"
expect_ok "export-vk" "$BIN" model export-vk "$M" -o "$WORK/m.vk"
expect_ok "model hash" "$BIN" model hash "$M"
hash=$(cat "$WORK/out")
[[ "$hash" =~ ^[0-9a-f]{64}$ ]] && ok "hash is 64 hex" || bad "hash is 64 hex: $hash"

expect_ok "prove" "$BIN" prove "$M" --input "$IN" --proof "$WORK/p.bin" --output "$WORK/o.json" \
  --nonce 00112233 --node-id worker-1
expect_ok "model run" "$BIN" model run "$M" --input "$IN" --output "$WORK/run.json"
$PY -c 'import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); assert a==b, "prove output differs from model run"' \
  "$WORK/o.json" "$WORK/run.json" && ok "prove output == model run output" || bad "prove output == model run output"

V=(--input "$IN" --proof "$WORK/p.bin")
expect_ok "verify with model" "$BIN" verify --model "$M" "${V[@]}" --output "$WORK/o.json" --nonce 00112233 --node-id worker-1
grep -q '^verified' "$WORK/out" && ok "prints verified" || bad "prints verified"
expect_ok "verify with vk" "$BIN" verify --vk "$WORK/m.vk" "${V[@]}" --output "$WORK/o.json" --nonce 00112233 --node-id worker-1

expect_fail "other nonce" "." "$BIN" verify --vk "$WORK/m.vk" "${V[@]}" --output "$WORK/o.json" --nonce 00112234 --node-id worker-1
expect_fail "other node id" "." "$BIN" verify --vk "$WORK/m.vk" "${V[@]}" --output "$WORK/o.json" --nonce 00112233 --node-id worker-2
expect_fail "missing nonce" "." "$BIN" verify --vk "$WORK/m.vk" "${V[@]}" --output "$WORK/o.json" --node-id worker-1

# every number of OUT.json, one at a time (output_q +1, result perturbed)
n=$($PY -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["output_q"]))' "$WORK/o.json")
tampered=0
for field in output_q result; do
  for ((i = 0; i < n; i += 7)); do
    $PY -c '
import json, sys
o = json.load(open(sys.argv[1])); f = sys.argv[2]; i = int(sys.argv[3])
o[f][i] = o[f][i] + 1 if f == "output_q" else o[f][i] + 0.25
json.dump(o, open(sys.argv[4], "w"))' "$WORK/o.json" "$field" "$i" "$WORK/t.json"
    if "$BIN" verify --vk "$WORK/m.vk" "${V[@]}" --output "$WORK/t.json" --nonce 00112233 --node-id worker-1 >/dev/null 2>&1; then
      bad "tampered $field[$i] accepted"; tampered=1
    fi
  done
done
[[ $tampered -eq 0 ]] && ok "every tampered output number rejected"
$PY -c '
import json, sys
o = json.load(open(sys.argv[1])); o["predictions"][0] = (o["predictions"][0] + 1) % 10
json.dump(o, open(sys.argv[2], "w"))' "$WORK/o.json" "$WORK/t.json"
expect_fail "tampered prediction" "." "$BIN" verify --vk "$WORK/m.vk" "${V[@]}" --output "$WORK/t.json" --nonce 00112233 --node-id worker-1

# a changed input value
$PY -c '
import json, sys
d = json.load(open(sys.argv[1])); d["data"][2][30] = 1.0 if d["data"][2][30] < 0.5 else 0.0
json.dump(d, open(sys.argv[2], "w"))' "$IN" "$WORK/in2.json"
expect_fail "changed input" "." "$BIN" verify --vk "$WORK/m.vk" --input "$WORK/in2.json" --proof "$WORK/p.bin" \
  --output "$WORK/o.json" --nonce 00112233 --node-id worker-1

# another model: same architecture, different weights (7-bit quantization)
expect_ok "import twin" "$BIN" model import "$SRC/examples/digits/model.onnx" -o "$WORK/twin.eml" \
  --calibration "$SRC/examples/digits/calibration.json" --weight-bits 7
expect_fail "other model's vk" "." "$BIN" verify --model "$WORK/twin.eml" "${V[@]}" --output "$WORK/o.json" --nonce 00112233 --node-id worker-1

# corrupted and truncated proofs
size=$(stat -c %s "$WORK/p.bin")
for off in 0 4 5 6 40 200 $((size / 3)) $((size / 2)) $((size - 40)) $((size - 1)); do
  cp "$WORK/p.bin" "$WORK/c.bin"
  printf '\x5a' | dd of="$WORK/c.bin" bs=1 seek="$off" conv=notrunc 2>/dev/null
  if cmp -s "$WORK/c.bin" "$WORK/p.bin"; then printf '\xa5' | dd of="$WORK/c.bin" bs=1 seek="$off" conv=notrunc 2>/dev/null; fi
  expect_fail "byte $off corrupted" "." "$BIN" verify --vk "$WORK/m.vk" --input "$IN" --proof "$WORK/c.bin" \
    --output "$WORK/o.json" --nonce 00112233 --node-id worker-1
done
head -c $((size / 2)) "$WORK/p.bin" >"$WORK/c.bin"
expect_fail "truncated proof" "." "$BIN" verify --vk "$WORK/m.vk" --input "$IN" --proof "$WORK/c.bin" \
  --output "$WORK/o.json" --nonce 00112233 --node-id worker-1
: >"$WORK/c.bin"
expect_fail "empty proof" "." "$BIN" verify --vk "$WORK/m.vk" --input "$IN" --proof "$WORK/c.bin" \
  --output "$WORK/o.json" --nonce 00112233 --node-id worker-1
finish
