#!/bin/bash
# `enclaveml demo` end to end (it imports the model itself when examples/digits/model.eml is
# absent), the CLI clients `inference` and `status` against a running cluster, and the demo's
# clean-up on Ctrl-C: no child process may survive.
source "$(dirname "$0")/cluster_lib.sh"
echo "cluster_demo (tmp $T)"
children_of() { pgrep -P "$1" 2>/dev/null | tr '\n' ' '; }

"$EM_BIN" demo --samples 16 > "$T/demo.log" 2>&1 &
DPID=$!; PIDS+=($DPID)
KIDS=""
for _ in $(seq 200); do
    for k in $(children_of $DPID); do [[ " $KIDS " == *" $k "* ]] || KIDS="$KIDS $k"; done
    kill -0 $DPID 2>/dev/null || break; sleep 0.02
done
wait $DPID; rc=$?
cat "$T/demo.log"
check "demo exits 0 (rc $rc)" [ $rc = 0 ]
check "demo: first run verified on 4 workers" grep -q "verified: yes, 4 proofs verified on 4 workers" "$T/demo.log"
check "demo: tampered proof rejected, predictions unchanged" grep -q "proofs rejected: 1; verified: yes; predictions identical" "$T/demo.log"
check "demo: tampering worker quarantined" grep -q "worker-12gb  quarantined" "$T/demo.log"
alive=0; for k in $KIDS; do kill -0 "$k" 2>/dev/null && alive=1; done
if [ $alive = 0 ] && [ -n "$KIDS" ]; then ok "demo: no child process left (had: $KIDS)"; else bad "demo: no child process left (had: $KIDS)"; fi
dir=$(sed -n 's/^\[1\/6\] cluster directory //p' "$T/demo.log")
if [ -n "$dir" ] && [ ! -e "$dir" ]; then ok "demo: temporary directory removed"; else bad "demo: temporary directory removed"; fi

# Ctrl-C in the middle: children stopped, exit status non-zero.
"$EM_BIN" demo --samples 16 > "$T/demo2.log" 2>&1 &
DPID=$!; PIDS+=($DPID)
for _ in $(seq 100); do [ "$(children_of $DPID | wc -w)" -ge 3 ] && break; sleep 0.05; done
KIDS=$(children_of $DPID)
kill -INT $DPID; wait $DPID; rc=$?
sleep 0.5
alive=0; for k in $KIDS; do kill -0 "$k" 2>/dev/null && alive=1; done
if [ $rc != 0 ] && [ $alive = 0 ] && [ -n "$KIDS" ]; then ok "demo interrupted: exits non-zero (rc $rc), children stopped ($KIDS)"; else bad "demo interrupted: exits non-zero (rc $rc), children stopped ($KIDS)"; fi

# The CLI clients against a small cluster.
make_model "$T/model.eml"
start_aggregator agg true 20
start_worker wa 48 "$T/model.eml"
start_worker wb 12 "$T/model.eml"
for w in wa wb; do wait_state $w healthy || bad "worker $w registered"; done
make_request "$T/in.json" 10
"$EM_BIN" inference --input "$T/in.json" --output "$T/res.json" --aggregator "127.0.0.1:$AGG_PORT" --combine median > "$T/cli.out" 2>&1
rc=$?
if [ $rc = 0 ] && [ "$(jget "$T/res.json" 'd["verified"]')" = True ]; then ok "inference CLI: exit 0 and a verified result file (rc $rc: $(cat "$T/cli.out"))"; else bad "inference CLI: exit 0 and a verified result file (rc $rc: $(cat "$T/cli.out"))"; fi
"$EM_BIN" inference --input "$T/in.json" --output "$T/res.json" --aggregator "127.0.0.1:$AGG_PORT" --split nope > /dev/null 2>&1
check "inference CLI: bad --split refused" [ $? != 0 ]
echo '{"data": [1, 2, 3], "sample_size": 64}' > "$T/bad.json"
"$EM_BIN" inference --input "$T/bad.json" --output "$T/res2.json" --aggregator "127.0.0.1:$AGG_PORT" > "$T/cli2.out" 2>&1
check "inference CLI: bad input file refused" [ $? != 0 ]
EM_AGGREGATOR="http://127.0.0.1:$AGG_PORT" "$EM_BIN" status --detailed > "$T/status.out" 2>&1
rc=$?
cat "$T/status.out"
if [ $rc = 0 ] && grep -q "^wa .*healthy" "$T/status.out" && grep -q "^wb .*healthy" "$T/status.out"; then ok "status CLI lists both workers"; else bad "status CLI lists both workers"; fi
check "status CLI --detailed shows the model hash" grep -q "model hash [0-9a-f]\{64\}" "$T/status.out"
"$EM_BIN" status --aggregator "127.0.0.1:$(free_port)" > /dev/null 2>&1
check "status CLI: unreachable aggregator -> non-zero" [ $? != 0 ]
finish
