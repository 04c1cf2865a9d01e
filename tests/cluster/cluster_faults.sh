#!/bin/bash
# Fault handling: a worker that tampers with its output or its proof is caught by verification,
# quarantined (visible in /workers) and its chunk re-done elsewhere; a slow worker times out and
# its chunk moves on; a worker crashing or killed mid-request does not fail the request; a
# quarantined worker cannot register again until an operator removes it.
source "$(dirname "$0")/cluster_lib.sh"
echo "cluster_faults (tmp $T)"
make_model "$T/model.eml"
N=16
reference_predictions "$T/model.eml" $N "$T/ref.txt"
REF=$(cat "$T/ref.txt")
start_aggregator agg true 20
start_worker wa 48 "$T/model.eml"
start_worker wb 12 "$T/model.eml"
for w in wa wb; do wait_state $w healthy || { bad "worker $w registered"; exit 1; }; done
make_request "$T/req.json" $N

# The faulty worker declares the largest capacity so the plan always gives it a chunk.
for fault in tamper-output bad-proof; do
    id=f-${fault%%-*}
    start_worker "$id" 64 "$T/model.eml" "$fault"
    wait_state "$id" healthy || { bad "$id registered"; continue; }
    code=$(post /inference "$T/req.json" "$T/out.json")
    check "$fault: request still answered 200 (got $code)" [ "$code" = 200 ]
    if [ "$(jget "$T/out.json" 'd["verified"]')" = True ] && [ "$(jget "$T/out.json" 'd["predictions"]')" = "$REF" ]; then ok "$fault: verified predictions equal the reference"; else bad "$fault: verified predictions equal the reference"; fi
    check "$fault: proof rejected" [ "$(jget "$T/out.json" 'd["proofs_rejected"]')" -ge 1 ]
    check "$fault: worker quarantined" [ "$(worker_field "$id" state)" = quarantined ]
    check "$fault: /workers says why" grep -q "proof rejected" <<< "$(worker_field "$id" reason)"
    check "$fault: chunk re-dispatched" grep -q "re-dispatching" "$T/agg.log"
    code=$(post /inference "$T/req.json" "$T/out2.json")
    if [ "$code" = 200 ] && [ "$(jget "$T/out2.json" 'd["proofs_rejected"]')" = 0 ]; then ok "$fault: quarantined worker gets no more work"; else bad "$fault: quarantined worker gets no more work"; fi
done

# A quarantined worker that restarts may not register again.
v=f_tamper; eval "pid=\$WPID_$v"; kill -TERM "$pid"; wait "$pid" 2>/dev/null
start_worker f-tamper 64 "$T/model.eml"
eval "pid=\$WPID_$v"
wait_exit "$pid"; rc=$RC
if [ "$rc" != 0 ] && grep -q quarantined "$T/f-tamper.log"; then ok "quarantined worker's re-registration refused (exit $rc)"; else bad "quarantined worker's re-registration refused (exit $rc)"; fi
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$URL/workers/f-tamper")
if [ "$code" = 200 ] && [ -z "$(worker_field f-tamper state)" ]; then ok "operator DELETE clears the quarantine (got $code)"; else bad "operator DELETE clears the quarantine (got $code)"; fi
kill -TERM "$WPID_f_bad"; wait "$WPID_f_bad" 2>/dev/null
curl -s -X DELETE "$URL/workers/f-bad" > /dev/null

# Slow worker: the per-chunk deadline (half the request budget) expires, the chunk moves on.
EM_FAULT_SLOW_MS=60000 start_worker f-slow 64 "$T/model.eml" slow
wait_state f-slow healthy || bad "f-slow registered"
t0=$(date +%s.%N)
code=$(post /inference "$T/req.json" "$T/out.json")
dt=$($PY -c "print(round($(date +%s.%N) - $t0, 1))")
if [ "$code" = 200 ] && $PY -c "import sys; sys.exit(not $dt < 20)"; then ok "slow: request answered 200 within the 20 s budget (took $dt s)"; else bad "slow: request answered 200 within the 20 s budget (took $dt s)"; fi
check "slow: predictions equal the reference" [ "$(jget "$T/out.json" 'd["predictions"]')" = "$REF" ]
if [ "$(worker_field f-slow state)" = unhealthy ] && grep -q "timed out" <<< "$(worker_field f-slow reason)"; then ok "slow: worker marked unhealthy (timed out)"; else bad "slow: worker marked unhealthy (timed out)"; fi
kill -TERM "$WPID_f_slow"; wait "$WPID_f_slow" 2>/dev/null

# Crash mid-request: the worker process dies while serving the chunk.
start_worker f-crash 64 "$T/model.eml" crash-mid-request
wait_state f-crash healthy || bad "f-crash registered"
code=$(post /inference "$T/req.json" "$T/out.json")
if [ "$code" = 200 ] && [ "$(jget "$T/out.json" 'd["predictions"]')" = "$REF" ]; then ok "crash-mid-request: request answered 200 (got $code)"; else bad "crash-mid-request: request answered 200 (got $code)"; fi
wait_exit "$WPID_f_crash"; rc=$RC
check "crash-mid-request: the worker process died (exit $rc)" [ "$rc" = 3 ]
check "crash-mid-request: worker no longer healthy" [ "$(worker_field f-crash state)" = unhealthy ]

# Killed mid-request: SIGKILL while the worker is busy with our chunk.
EM_FAULT_SLOW_MS=60000 start_worker f-kill 64 "$T/model.eml" slow
wait_state f-kill healthy || bad "f-kill registered"
t0=$(date +%s.%N)
post /inference "$T/req.json" "$T/out.json" > "$T/code.txt" &
cpid=$!
sleep 1
kill -KILL "$WPID_f_kill"
wait $cpid
dt=$($PY -c "print(round($(date +%s.%N) - $t0, 1))")
if [ "$(cat "$T/code.txt")" = 200 ] && $PY -c "import sys; sys.exit(not $dt < 7)"; then ok "killed mid-request: request answered 200 in $dt s (before the 10 s chunk deadline)"; else bad "killed mid-request: request answered 200 in $dt s (before the 10 s chunk deadline)"; fi
check "killed mid-request: predictions equal the reference" [ "$(jget "$T/out.json" 'd["predictions"]')" = "$REF" ]
# Missed heartbeats (timeout 3 s) keep it unhealthy.
sleep 3.5
check "killed worker stays unhealthy (missed heartbeats)" [ "$(worker_field f-kill state)" = unhealthy ]
if curl -s "$URL/metrics" | grep -q 'enclaveml_proofs_total{verdict="rejected"} 2$'; then ok "metrics count the 2 rejected proofs"; else bad "metrics count the 2 rejected proofs"; fi

# The aggregator dies and comes back (same config): heartbeats answered known=false make the
# live workers register again; requests work again.
kill -KILL "$AGG_PID"; wait "$AGG_PID" 2>/dev/null
"$EM_BIN" start-aggregator --config "$T/agg.yaml" > "$T/agg2.log" 2>&1 & AGG_PID=$!; PIDS+=($AGG_PID)
check "restarted aggregator: honest workers registered again" wait_state wa healthy 80
wait_state wb healthy 50
code=$(post /inference "$T/req.json" "$T/out.json")
if [ "$code" = 200 ] && [ "$(jget "$T/out.json" 'd["predictions"]')" = "$REF" ]; then ok "restarted aggregator serves verified requests"; else bad "restarted aggregator serves verified requests ($code)"; fi
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/metrics")
if [ "$code" = 200 ] && curl -s "$URL/metrics" | grep -q 'enclaveml_proofs_total{verdict="verified"} [1-9]'; then ok "metrics count verified proofs"; else bad "metrics count verified proofs"; fi
finish
