#!/bin/bash
# The worker and aggregator gRPC services called by an independent client (Python grpcio with
# message classes built from the descriptor set of proto/enclaveml.proto); the worker's proof
# checked offline with `enclaveml verify`.
source "$(dirname "$0")/cluster_lib.sh"
echo "cluster_grpc (tmp $T)"
: "${EM_PROTO_DESC:?EM_PROTO_DESC must point to enclaveml.desc}"
make_model "$T/model.eml"
reference_predictions "$T/model.eml" 8 "$T/ref.txt"
cp "$T/ref_out.json" "$T/ref8.json"
start_aggregator agg true 30
start_worker wa 48 "$T/model.eml"
start_worker wb 12 "$T/model.eml"
for w in wa wb; do wait_state $w healthy || bad "worker $w registered"; done
HASH=$(curl -s "$URL/model/hash" | $PY -c 'import json,sys; print(json.load(sys.stdin)["model_hash"])')
$PY "$(dirname "$0")/grpc_client.py" "$EM_PROTO_DESC" "127.0.0.1:$WPORT_wa" "127.0.0.1:$AGG_GRPC" wa "$HASH" \
    "$EM_SRC_DIR/examples/digits/test.json" "$T/ref8.json" "$T" > "$T/py.out" 2>&1
rc=$?
cat "$T/py.out"
CHECKS=$((CHECKS + $(grep -c '^  ok' "$T/py.out") + $(grep -c '^  FAIL' "$T/py.out")))
FAILS=$((FAILS + $(grep -c '^  FAIL' "$T/py.out")))
[ $rc = 0 ] || [ "$(grep -c '^  FAIL' "$T/py.out")" != 0 ] || bad "python client exited $rc"
if [ -f "$T/g.args" ]; then
    read -r nonce node < "$T/g.args"
    "$EM_BIN" model run "$T/model.eml" --input "$T/g_in.json" --output "$T/g_run.json" > /dev/null 2>&1
    $PY - "$T" <<'PYEOF'
import json, sys
t = sys.argv[1]
q = json.load(open(t + "/g_out_q.json"))
run = json.load(open(t + "/g_run.json"))
s = run["output_scale"]; k = q["output_size"]; v = q["output_q"]; n = len(v) // k
json.dump({"output_q": v, "output_size": k, "output_scale": s, "result": [x / 2**s for x in v],
           "predictions": [max(range(k), key=lambda j: (v[r*k+j], -j)) for r in range(n)]},
          open(t + "/g_out.json", "w"))
PYEOF
    check "worker proof obtained over gRPC verifies offline" "$EM_BIN" verify --model "$T/model.eml" \
        --input "$T/g_in.json" --output "$T/g_out.json" --proof "$T/g.bin" --nonce "$nonce" --node-id "$node"
    check "...and not for another node id" bash -c "! '$EM_BIN' verify --model '$T/model.eml' --input '$T/g_in.json' \
        --output '$T/g_out.json' --proof '$T/g.bin' --nonce $nonce --node-id wb 2>/dev/null"
fi
finish
