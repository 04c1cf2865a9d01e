#!/bin/bash
# Every REST endpoint with good and bad input: 4xx/5xx answers are JSON {"error", "field"} and the
# server keeps serving afterwards.
source "$(dirname "$0")/cluster_lib.sh"
echo "cluster_rest (tmp $T)"
make_model "$T/model.eml"
start_aggregator agg true 20 "  max_body_bytes: 65536"

# req METHOD PATH [BODY|@FILE] -> sets CODE and leaves the body in $T/r.json
req() {
    local m=$1 p=$2 b=${3:-}
    if [ -n "$b" ]; then
        CODE=$(curl -s -o "$T/r.json" -w '%{http_code}' -X "$m" -H 'Content-Type: application/json' --data-binary "$b" "$URL$p")
    else
        CODE=$(curl -s -o "$T/r.json" -w '%{http_code}' -X "$m" "$URL$p")
    fi
}
is_err() { # is_err CODE FIELD: status and a JSON error naming FIELD ("null" for none)
    [ "$CODE" = "$1" ] && [ "$(jget "$T/r.json" 'json.dumps(d["field"]) if isinstance(d.get("error"), str) and d["error"] else "NOERR"')" = "$2" ]
}
expect() { # expect DESCRIPTION STATUS FIELD METHOD PATH [BODY]
    local d=$1 st=$2 f=$3; shift 3
    req "$@"
    check "$d -> $st $f (got $CODE: $(head -c 160 "$T/r.json"))" is_err "$st" "$f"
}

make_request "$T/good.json" 2
expect "inference before any worker" 503 null POST /inference @"$T/good.json"
req GET /model/hash
if [ "$CODE" = 200 ] && [ "$(jget "$T/r.json" 'd["model_hash"]')" = None ]; then ok "model hash before any worker is null"; else bad "model hash before any worker is null"; fi

start_worker wa 48 "$T/model.eml"
start_worker wb 12 "$T/model.eml"
for w in wa wb; do wait_state $w healthy || bad "worker $w registered"; done

req GET /health
if [ "$CODE" = 200 ] && [ "$(jget "$T/r.json" '(d["status"], d["workers_healthy"])')" = "('ok', 2)" ]; then ok "GET /health"; else bad "GET /health"; fi
req GET /status
if [ "$CODE" = 200 ] && [ "$(jget "$T/r.json" '(d["workers"]["total"], d["config"]["strict_mode"], len(d["worker_list"]))')" = "(2, True, 2)" ]; then ok "GET /status"; else bad "GET /status"; fi
req GET /workers
if [ "$CODE" = 200 ] && [ "$(jget "$T/r.json" 'sorted((w["id"], w["state"], w["memory_gb"]) for w in d["workers"])')" = "[('wa', 'healthy', 48.0), ('wb', 'healthy', 12.0)]" ]; then ok "GET /workers"; else bad "GET /workers"; fi
check "GET /workers shares 0.8/0.2" [ "$(jget "$T/r.json" 'sorted(round(w["share"], 6) for w in d["workers"])')" = "[0.2, 0.8]" ]
req GET /model/hash
HASH=$(jget "$T/r.json" 'd["model_hash"]')
if [ "$CODE" = 200 ] && [ ${#HASH} = 64 ] && [ "$(jget "$T/r.json" 'd["source"]')" = "first worker" ]; then ok "GET /model/hash"; else bad "GET /model/hash"; fi
req POST /inference @"$T/good.json"
if [ "$CODE" = 200 ] && [ "$(jget "$T/r.json" '(d["verified"], d["model_hash"])')" = "(True, '$HASH')" ]; then ok "POST /inference"; else bad "POST /inference"; fi
$PY -c 'import json; d=json.load(open("'"$T/good.json"'")); json.dump({"data": [d["data"][:64], d["data"][64:]]}, open("'"$T/nested.json"'", "w"))'
req POST /inference @"$T/nested.json"
if [ "$CODE" = 200 ] && [ "$(jget "$T/r.json" 'len(d["predictions"])')" = 2 ]; then ok "POST /inference with data as rows"; else bad "POST /inference with data as rows"; fi
req GET /metrics
if [ "$CODE" = 200 ] && grep -q '^enclaveml_requests_total{outcome="ok"} 2$' "$T/r.json" && grep -q '^# TYPE enclaveml_proofs_total counter$' "$T/r.json"; then ok "GET /metrics is Prometheus text"; else bad "GET /metrics is Prometheus text"; fi

ROW=$($PY -c 'print(",".join(["0.5"] * 64))')
expect "malformed JSON" 400 null POST /inference '{"data": [1, 2,'
expect "not an object" 400 null POST /inference '[1, 2, 3]'
expect "empty body" 400 null POST /inference ''
expect "missing data" 400 '"data"' POST /inference '{"sample_size": 64}'
expect "extra field" 400 '"bogus"' POST /inference "{\"data\": [$ROW], \"sample_size\": 64, \"bogus\": 1}"
expect "wrong sample_size" 400 '"sample_size"' POST /inference "{\"data\": [$ROW], \"sample_size\": 32}"
expect "empty data" 400 '"data"' POST /inference '{"data": [], "sample_size": 64}'
expect "data not a multiple of sample_size" 400 '"data"' POST /inference '{"data": [1, 2, 3], "sample_size": 64}'
expect "string in data" 400 '"data"' POST /inference "{\"data\": [\"x\", $ROW], \"sample_size\": 64}"
expect "ragged rows" 400 '"data"' POST /inference "{\"data\": [[$ROW], [1, 2]]}"
expect "unknown split_strategy" 400 '"split_strategy"' POST /inference "{\"data\": [$ROW], \"sample_size\": 64, \"split_strategy\": \"random\"}"
expect "unknown combine_strategy" 400 '"combine_strategy"' POST /inference "{\"data\": [$ROW], \"sample_size\": 64, \"combine_strategy\": \"max\"}"
expect "split_strategy not a string" 400 '"split_strategy"' POST /inference "{\"data\": [$ROW], \"sample_size\": 64, \"split_strategy\": 3}"
expect "return_proofs not a bool" 400 '"return_proofs"' POST /inference "{\"data\": [$ROW], \"sample_size\": 64, \"return_proofs\": \"yes\"}"
expect "duplicate key" 400 null POST /inference "{\"data\": [$ROW], \"data\": [$ROW]}"
$PY -c 'import json; json.dump({"data": [0.5] * 64 * 2000, "sample_size": 64}, open("'"$T/big.json"'", "w"))'
expect "body over max_body_bytes" 413 null POST /inference @"$T/big.json"
CODE=$(curl -s -o "$T/r.json" -w '%{http_code}' -X POST -H 'Transfer-Encoding: chunked' --data-binary @"$T/big.json" "$URL/inference")
check "chunked body over the cap -> 413 (got $CODE)" is_err 413 null
expect "GET /inference" 405 null GET /inference
expect "PUT /workers" 405 null PUT /workers
expect "POST /health" 405 null POST /health '{}'
expect "unknown path" 404 null GET /nope
expect "DELETE unknown worker" 404 '"id"' DELETE /workers/nobody
expect "GET /workers/ID" 405 null GET /workers/wa
expect "register: malformed JSON" 400 null POST /workers '{"node_id": '
expect "register: missing address" 400 '"address"' POST /workers '{"node_id": "x"}'
expect "register: bad node_id" 400 '"node_id"' POST /workers '{"node_id": "a b", "address": "127.0.0.1:1"}'
expect "register: bad address" 400 '"address"' POST /workers '{"node_id": "x", "address": "nowhere"}'
expect "register: bad device" 400 '"device"' POST /workers '{"node_id": "x", "address": "127.0.0.1:9", "device": "tpu"}'
expect "register: bad max_batch" 400 '"max_batch"' POST /workers '{"node_id": "x", "address": "127.0.0.1:9", "max_batch": 0}'
expect "register: unknown field" 400 '"port"' POST /workers '{"node_id": "x", "address": "127.0.0.1:9", "port": 1}'
DEAD=$(free_port)
expect "register: unreachable worker" 502 null POST /workers "{\"node_id\": \"x\", \"address\": \"127.0.0.1:$DEAD\"}"
expect "register: address of another worker" 409 '"node_id"' POST /workers "{\"node_id\": \"impostor\", \"address\": \"127.0.0.1:$WPORT_wa\"}"
req POST /workers "{\"node_id\": \"wa\", \"address\": \"127.0.0.1:$WPORT_wa\", \"memory_gb\": 24}"
if [ "$CODE" = 200 ] && [ "$(worker_field wa memory_gb)" = 24.0 ]; then ok "register: re-registration updates (200)"; else bad "register: re-registration updates (200)"; fi
req DELETE /workers/wb
# Only the response is checked here: the live worker may re-register at its next heartbeat at
# any moment after the DELETE (checked just below), so reading /workers now would race with it.
if [ "$CODE" = 200 ] && [ "$(jget "$T/r.json" 'd.get("removed")')" = wb ]; then ok "DELETE /workers/wb"; else bad "DELETE /workers/wb"; fi
# The worker notices at its next heartbeat and registers again.
check "a removed live worker re-registers by itself" wait_state wb healthy 60

req GET /health
check "still serving after bad input" [ "$CODE" = 200 ]
req POST /inference @"$T/good.json"
if [ "$CODE" = 200 ] && [ "$(jget "$T/r.json" 'd["verified"]')" = True ]; then ok "inference still works"; else bad "inference still works"; fi
check "aggregator process alive" kill -0 "$AGG_PID"
finish
