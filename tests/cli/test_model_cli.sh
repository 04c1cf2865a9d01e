#!/usr/bin/env bash
# The model CLI contract (issue: foundation): import, info, run on the bundled model and on the
# Softmax variant; exact output JSON fields; one-line errors with non-zero exit.
source "$(dirname "$0")/lib.sh"
M="$WORK/digits.eml"

expect_ok "help" "$BIN" --help
for c in model prove verify; do expect_ok "help $c" "$BIN" $c --help; done
expect_fail "unknown command" "unknown command" "$BIN" frobnicate

expect_ok "import" "$BIN" model import "$SRC/examples/digits/model.onnx" -o "$M" \
  --calibration "$SRC/examples/digits/calibration.json"
expect_ok "info" "$BIN" model info "$M"
grep -q "integrity only" "$WORK/out" && ok "info says integrity only" || bad "info says integrity only"
expect_ok "info --json" "$BIN" model info "$M" --json
$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d' "$WORK/out" && ok "info --json parses" || bad "info --json parses"

expect_ok "run" "$BIN" model run "$M" --input "$SRC/examples/digits/test.json" --output "$WORK/run.json"
$PY - "$WORK/run.json" "$SRC/examples/digits/test.json" <<'PY' && ok "run output contract" || bad "run output contract"
import json, sys
r = json.load(open(sys.argv[1])); t = json.load(open(sys.argv[2]))
k = r["output_size"]; s = r["output_scale"]; q = r["output_q"]; res = r["result"]
n = len(t["data"])
assert k == 10 and len(q) == n * k and len(res) == n * k, "sizes"
assert all(isinstance(v, int) for v in q), "output_q must be integers"
assert all(res[i] == q[i] / 2.0 ** s for i in range(len(q))), "result must equal output_q / 2^S exactly"
pred = [max(range(k), key=lambda j: (q[i*k+j], -j)) for i in range(n)]
assert pred == r["predictions"], "predictions must be argmax (ties to lowest)"
acc = sum(p == l for p, l in zip(pred, t["labels"])) / n
m = json.load(open(sys.argv[2].replace("test.json", "metrics.json")))
assert acc >= m["float_test_accuracy"] - 0.01, f"quantized accuracy {acc} loses more than 1 point"
print(f"quantized accuracy {acc:.4f} (float {m['float_test_accuracy']:.4f})")
PY

# stdout form and nested-row input
expect_ok "run to stdout" "$BIN" model run "$M" --input "$SRC/examples/sample-input.json"
$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["predictions"]==[1,8,4,5], d["predictions"]' "$WORK/out" \
  && ok "sample predictions" || bad "sample predictions"

# Softmax-terminated model: result holds probabilities, output_q the logits
MS="$WORK/softmax.eml"
expect_ok "import softmax" "$BIN" model import "$SRC/examples/digits/model-softmax.onnx" -o "$MS" \
  --calibration "$SRC/examples/digits/calibration.json"
expect_ok "run softmax" "$BIN" model run "$MS" --input "$SRC/examples/sample-input.json" --output "$WORK/sm.json"
$PY - "$WORK/sm.json" <<'PY' && ok "softmax probabilities" || bad "softmax probabilities"
import json, sys, math
r = json.load(open(sys.argv[1])); k = r["output_size"]; res = r["result"]; q = r["output_q"]; s = r["output_scale"]
for i in range(len(res) // k):
    row = res[i*k:(i+1)*k]
    assert abs(sum(row) - 1) < 1e-9 and all(0 <= v <= 1 for v in row)
    z = [v / 2.0 ** s for v in q[i*k:(i+1)*k]]; mx = max(z); e = [math.exp(v - mx) for v in z]
    assert all(abs(a - b / sum(e)) < 1e-12 for a, b in zip(row, e))
PY

# errors: non-zero exit, one line naming the problem
echo '{"data": [1, 2, 3], "sample_size": 3}' >"$WORK/bad-size.json"
expect_fail "wrong sample_size" "sample_size" "$BIN" model run "$M" --input "$WORK/bad-size.json"
echo '{"data": [1, 2' >"$WORK/bad-json.json"
expect_fail "malformed JSON" "JSON" "$BIN" model run "$M" --input "$WORK/bad-json.json"
expect_fail "missing input file" "nonexistent" "$BIN" model run "$M" --input "$WORK/nonexistent.json"
printf 'EMLMgarbage' >"$WORK/bad.eml"
expect_fail "corrupt model file" "bad.eml" "$BIN" model run "$WORK/bad.eml" --input "$SRC/examples/sample-input.json"
head -c 100 "$SRC/examples/digits/model.onnx" >"$WORK/trunc.onnx"
expect_fail "truncated onnx" "trunc.onnx" "$BIN" model import "$WORK/trunc.onnx" -o "$WORK/x.eml"
expect_fail "import without -o" "-o" "$BIN" model import "$SRC/examples/digits/model.onnx"
expect_fail "unknown option" "--bogus" "$BIN" model info "$M" --bogus
finish
