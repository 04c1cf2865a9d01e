#!/bin/bash
# Three workers (48/12/6 GB) on loopback: verified predictions equal a local reference run, the
# split strategies give the expected shares, every combine strategy works on redundant results,
# and returned proofs verify offline with `enclaveml verify` (and fail with a changed nonce).
source "$(dirname "$0")/cluster_lib.sh"
echo "cluster_basic (tmp $T)"
make_model "$T/model.eml"
N=32
reference_predictions "$T/model.eml" $N "$T/ref.txt"
REF=$(cat "$T/ref.txt")
start_aggregator agg true 30
start_worker wa 48 "$T/model.eml"
start_worker wb 12 "$T/model.eml"
start_worker wc 6 "$T/model.eml"
for w in wa wb wc; do wait_state $w healthy || { bad "worker $w registered"; exit 1; }; done

done_of() { worker_field "$1" samples_done; }
shares() { echo "$(done_of wa) $(done_of wb) $(done_of wc)"; }

make_request "$T/req.json" $N
code=$(post /inference "$T/req.json" "$T/out.json")
check "by_capacity request answered 200 (got $code)" [ "$code" = 200 ]
check "verified" [ "$(jget "$T/out.json" 'd["verified"]')" = True ]
check "predictions equal the local reference" [ "$(jget "$T/out.json" 'd["predictions"]')" = "$REF" ]
check "3 proofs verified on 3 nodes" [ "$(jget "$T/out.json" '(d["proofs_verified"], d["total_nodes"], d["proofs_rejected"])')" = "(3, 3, 0)" ]
check "result is n x output_size" [ "$(jget "$T/out.json" 'len(d["result"]) == d["output_size"] * '$N)" = True ]
# 32 x 48/66, 12/66, 6/66 = 23.27/5.82/2.91 -> floors 23/5/2, remainders .91 and .82 round up.
check "by_capacity shares 23/6/3 (got $(shares))" [ "$(shares)" = "23 6 3" ]

make_request "$T/req_eq.json" $N '{"split_strategy": "equal"}'
code=$(post /inference "$T/req_eq.json" "$T/out_eq.json")
# equal: 11/11/10 more.
if [ "$code" = 200 ] && [ "$(shares)" = "34 17 13" ]; then ok "equal split shares +11/+11/+10 (now $(shares))"; else bad "equal split shares +11/+11/+10 (now $(shares))"; fi
check "equal split predictions" [ "$(jget "$T/out_eq.json" 'd["predictions"]')" = "$REF" ]

for comb in average weighted_average majority_vote soft_vote median; do
    make_request "$T/req_r.json" $N '{"split_strategy": "redundant", "combine_strategy": "'$comb'"}'
    code=$(post /inference "$T/req_r.json" "$T/out_r.json")
    if [ "$code" = 200 ] && [ "$(jget "$T/out_r.json" 'd["proofs_verified"]')" = 3 ] && [ "$(jget "$T/out_r.json" 'd["predictions"]')" = "$REF" ]; then ok "redundant + $comb: 200, 3 proofs, predictions = reference"; else bad "redundant + $comb: 200, 3 proofs, predictions = reference"; fi
    case $comb in
    majority_vote) check "majority_vote rows are unanimous vote shares" [ "$(jget "$T/out_r.json" \
        'all(d["result"][i*10 + d["predictions"][i]] == 1.0 and sum(d["result"][i*10:i*10+10]) == 1.0 for i in range(len(d["predictions"])))')" = True ] ;;
    soft_vote) check "soft_vote rows are probabilities" [ "$(jget "$T/out_r.json" \
        'all(abs(sum(d["result"][i*10:i*10+10]) - 1) < 1e-9 for i in range(len(d["predictions"])))')" = True ] ;;
    median) check "median of identical replicas equals the average" [ "$(jget "$T/out_r.json" 'd["result"]')" = "$(jget "$T/out.json" 'd["result"]')" ] ;;
    esac
done
check "redundant: every worker computed every sample (now $(shares))" [ "$(shares)" = "$((34+5*N)) $((17+5*N)) $((13+5*N))" ]

# Proofs returned to the client verify offline against the model, and are bound to the nonce.
make_request "$T/req_p.json" 8 '{"return_proofs": true}'
code=$(post /inference "$T/req_p.json" "$T/out_p.json")
if [ "$code" = 200 ] && [ "$(jget "$T/out_p.json" 'len(d["proofs"]) == d["proofs_verified"]')" = True ]; then ok "return_proofs: 200 with one proof per chunk"; else bad "return_proofs: 200 with one proof per chunk"; fi
"$EM_BIN" model run "$T/model.eml" --input "$T/req_p.json" --output "$T/run_p.json" > /dev/null 2>&1
$PY - "$T" <<'PYEOF'
import base64, json, sys
t = sys.argv[1]
out = json.load(open(t + "/out_p.json")); req = json.load(open(t + "/req_p.json"))
scale = json.load(open(t + "/run_p.json"))["output_scale"]
ss = req["sample_size"]
for i, p in enumerate(out["proofs"]):
    s, c = p["samples"]
    json.dump({"data": req["data"][s*ss:(s+c)*ss], "sample_size": ss}, open(f"{t}/p{i}_in.json", "w"))
    q = p["output_q"]; k = len(q) // c
    json.dump({"output_q": q, "output_size": k, "output_scale": scale,
               "result": [v / 2**scale for v in q],
               "predictions": [max(range(k), key=lambda j: (q[r*k+j], -j)) for r in range(c)]},
              open(f"{t}/p{i}_out.json", "w"))
    open(f"{t}/p{i}.bin", "wb").write(base64.b64decode(p["proof"]))
    open(f"{t}/p{i}.args", "w").write(f'{p["nonce"]} {p["node_id"]}\n')
PYEOF
for a in "$T"/p*.args; do
    i=$(basename "$a" .args); read -r nonce node < "$a"
    check "offline verify of chunk $i from $node" "$EM_BIN" verify --model "$T/model.eml" --input "$T/${i}_in.json" \
        --output "$T/${i}_out.json" --proof "$T/$i.bin" --nonce "$nonce" --node-id "$node"
    other=$(echo "$nonce" | sed 's/^./f/;t'); [ "$other" = "$nonce" ] && other=$(echo "$nonce" | sed 's/^./0/')
    check "offline verify of chunk $i fails with another nonce" bash -c \
        "! '$EM_BIN' verify --model '$T/model.eml' --input '$T/${i}_in.json' --output '$T/${i}_out.json' --proof '$T/$i.bin' --nonce $other --node-id $node 2>/dev/null"
    check "offline verify of chunk $i fails with another node id" bash -c \
        "! '$EM_BIN' verify --model '$T/model.eml' --input '$T/${i}_in.json' --output '$T/${i}_out.json' --proof '$T/$i.bin' --nonce $nonce --node-id impostor 2>/dev/null"
done

# A second process on a worker's port must not bind too (gRPC's default SO_REUSEPORT would let
# it take part of wa's connections): it fails with a clear error instead.
sed -e "s/node_id: wa/node_id: wa-twin/" "$T/wa.yaml" > "$T/wa-twin.yaml"
timeout 20 "$EM_BIN" start-node --config "$T/wa-twin.yaml" > "$T/wa-twin.log" 2>&1; rc=$?
check "second worker on a taken port exits non-zero (rc $rc)" [ $rc != 0 ] && [ $rc != 124 ]
check "second worker on a taken port says why" grep -q "cannot listen on 127.0.0.1:$WPORT_wa" "$T/wa-twin.log"
check "the first worker still answers alone" [ "$(worker_field wa state)" = healthy ]

# Graceful shutdown: SIGTERM makes a worker deregister.
kill -TERM "$WPID_wc"; wait "$WPID_wc"; rc=$?
check "SIGTERM: worker exits 0 (rc $rc)" [ $rc = 0 ]
check "SIGTERM: worker deregistered" [ -z "$(worker_field wc state)" ]
finish
