#!/bin/bash
# A/B comparison of two bench_prove binaries on a noisy machine: for each row set, the two
# binaries run in turn ROUNDS times (--reps 3 each), and the best of each binary is printed per
# (model, batch). Usage (from the source root):
#   bench/ab_prove.sh NEW_BENCH_PROVE OLD_BENCH_PROVE [ROUNDS] [-- bench_prove row options]...
# Default row sets: the 784-512-512-10 and 784-2048-1024-10 MLPs and the bundled models (the
# CNN imported with the digits calibration set into a temporary file).
set -euo pipefail
new=$1 old=$2 rounds=${3:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cli=$(dirname "$new")/../src/cli/enclaveml
sets=("--mlp 784-512-512-10 --batch 1,64,256,1024" "--mlp 784-2048-1024-10 --batch 1,64"
      "--model examples/digits/model.eml --batch 1,16,64,256,1024")
if [ -x "$cli" ] && "$cli" model import examples/cnn/digits-cnn.onnx -o "$tmp/cnn.eml" \
    --calibration examples/digits/calibration.json >/dev/null 2>&1; then
    sets+=("--model $tmp/cnn.eml --batch 1,16,64,256")
fi
for set in "${sets[@]}"; do
    for ((i = 0; i < rounds; i++)); do
        # shellcheck disable=SC2086
        { echo "BIN new"; "$new" $set --reps 3; echo "BIN old"; "$old" $set --reps 3; } >>"$tmp/out" 2>&1
    done
done
awk '
/^BIN / { bin = $2; next }
/ params / { model = $1; next }
NF == 8 && $1 ~ /^[0-9]+$/ {
    k = model " " $1
    if (!(k in seen)) { seen[k] = 1; order[n++] = k }
    r = $6; sub(/x$/, "", r)
    for (i = 2; i <= 8; i++) { v = $i; sub(/x$/, "", v); key = bin SUBSEP k SUBSEP i
        if (!(key in best) || v + 0 < best[key] + 0) best[key] = v }
}
END {
    printf "%-24s %6s | %8s %9s %8s %8s | %9s %8s | %s\n", "model", "batch", "infer", "prove", "verify", "peakMB",
           "old prove", "old ver", "ratio new (old)"
    for (j = 0; j < n; j++) {
        k = order[j]; split(k, a, " ")
        inf = best["new" SUBSEP k SUBSEP 2]; io = best["old" SUBSEP k SUBSEP 2]; if (io + 0 < inf + 0) inf = io
        pn = best["new" SUBSEP k SUBSEP 3]; po = best["old" SUBSEP k SUBSEP 3]
        printf "%-24s %6s | %8.2f %9.1f %8.1f %8s | %9.1f %8.1f | %.1fx (%.1fx)\n", a[1], a[2], inf, pn,
               best["new" SUBSEP k SUBSEP 5], best["new" SUBSEP k SUBSEP 8], po, best["old" SUBSEP k SUBSEP 5],
               pn / inf, po / inf
    }
}' "$tmp/out"
