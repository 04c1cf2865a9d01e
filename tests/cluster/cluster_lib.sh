# Shared helpers for the multi-process cluster tests (sourced by tests/cluster/*.sh).
# Usage: EM_BIN=path/to/enclaveml EM_SRC_DIR=repo source cluster_lib.sh
# Every process started here is killed by the EXIT trap; ports are random free ports.
set -u
: "${EM_BIN:?EM_BIN must point to the enclaveml binary}"
: "${EM_SRC_DIR:?EM_SRC_DIR must point to the source tree}"
PY=/usr/bin/python3
T=$(mktemp -d "${TMPDIR:-/tmp}/emcluster.XXXXXX")
PIDS=()
FAILS=0
CHECKS=0
export EM_LOG=${EM_LOG:-info}

MAIN_PID=$BASHPID
cleanup() {
    # A forked child (before its exec) may receive a signal: only the test shell cleans up.
    [ "$BASHPID" = "$MAIN_PID" ] || exit 1
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    sleep 0.3
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    if [ "$FAILS" -ne 0 ] || [ -n "${KEEP_LOGS:-}" ]; then
        for f in "$T"/*.log; do [ -f "$f" ] && { echo "---- $f"; tail -n 30 "$f"; }; done
    fi
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port the kernel just freed can be handed out again: never give the same one twice here
# (the record is a file because callers run this in a $(...) subshell).
free_port() {
    local p
    while :; do
        p=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
        grep -qx "$p" "$T/ports.used" 2>/dev/null || break
    done
    echo "$p" >> "$T/ports.used"
    echo "$p"
}

ok() { CHECKS=$((CHECKS+1)); echo "  ok   $*"; }
bad() { CHECKS=$((CHECKS+1)); FAILS=$((FAILS+1)); echo "  FAIL $*"; }
check() { # check DESCRIPTION COMMAND...
    local d=$1; shift
    if "$@"; then ok "$d"; else bad "$d"; fi
}
finish() {
    # Stop everything gracefully, then look for sanitizer reports (ASan/UBSan/LSan builds) in
    # the logs of every process this test started.
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    done
    if grep -l -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$T"/*.log > "$T/san.txt" 2>/dev/null; then
        bad "sanitizer reports in: $(tr '\n' ' ' < "$T/san.txt")"
        grep -h -A20 -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$T"/*.log | head -60
    else
        ok "no sanitizer reports in the process logs"
    fi
    echo "$((CHECKS-FAILS)) passed, $FAILS failed"
    [ "$FAILS" -eq 0 ]
}

# The bundled digits model, imported once per test run into $T/model.eml.
make_model() { # make_model OUT.eml [import options]
    local out=$1; shift
    "$EM_BIN" model import "$EM_SRC_DIR/examples/digits/model.onnx" -o "$out" "$@" \
        --calibration "$EM_SRC_DIR/examples/digits/calibration.json" > "$T/import.log" 2>&1 ||
        { echo "model import failed"; cat "$T/import.log"; exit 1; }
}

# start_aggregator NAME [strict true|false] [timeout] [extra yaml lines] [model hash]
start_aggregator() {
    local name=$1 strict=${2:-true} timeout=${3:-20} extra=${4:-} hash=${5:-null}
    AGG_PORT=$(free_port); AGG_GRPC=$(free_port)
    cat > "$T/$name.yaml" <<YAML
aggregator:
  bind: 127.0.0.1
  port: $AGG_PORT
  grpc_port: $AGG_GRPC
  model_hash: $hash
  strict_mode: $strict
  request_timeout_secs: $timeout
  heartbeat_timeout_secs: 3
  split_strategy: by_capacity
  combine_strategy: average
$extra
YAML
    "$EM_BIN" start-aggregator --config "$T/$name.yaml" > "$T/$name.log" 2>&1 &
    AGG_PID=$!
    PIDS+=("$AGG_PID")
    URL="http://127.0.0.1:$AGG_PORT"
    for _ in $(seq 100); do curl -sf "$URL/health" > /dev/null && return 0; sleep 0.1; done
    echo "aggregator $name did not come up"; cat "$T/$name.log"; exit 1
}

# start_worker ID MEMORY_GB MODEL [FAULT] [EXTRA YAML LINE]; sets WPID_<ID> and WPORT_<ID>
# (ID with - replaced by _)
start_worker() {
    local id=$1 mem=$2 model=$3 fault=${4:-} extra=${5:-} port v
    port=$(free_port)
    cat > "$T/$id.yaml" <<YAML
worker:
  node_id: $id
  bind: 127.0.0.1
  port: $port
  advertise_address: "127.0.0.1:$port"
  aggregator_address: "127.0.0.1:$AGG_PORT"
  device: cpu
  memory_gb: $mem
  model_path: $model
  heartbeat_interval_secs: 1
  threads: 1
$extra
YAML
    if [ -n "$fault" ]; then
        EM_ALLOW_FAULTS=1 "$EM_BIN" start-node --config "$T/$id.yaml" --fault "$fault" > "$T/$id.log" 2>&1 &
    else
        "$EM_BIN" start-node --config "$T/$id.yaml" > "$T/$id.log" 2>&1 &
    fi
    local pid=$!
    PIDS+=("$pid")
    v=${id//-/_}
    eval "WPID_$v=$pid; WPORT_$v=$port"
}

# wait_state ID STATE [tries]: until /workers lists ID in STATE.
wait_state() {
    local id=$1 st=$2 n=${3:-100}
    for _ in $(seq "$n"); do
        [ "$(worker_field "$id" state)" = "$st" ] && return 0
        sleep 0.1
    done
    return 1
}

worker_field() { # worker_field ID FIELD -> value from GET /workers
    curl -s "$URL/workers" | $PY -c '
import json, sys
for w in json.load(sys.stdin)["workers"]:
    if w["id"] == sys.argv[1]:
        v = w.get(sys.argv[2]); print("" if v is None else v)' "$1" "$2"
}

# make_request OUT N [extra json fields]: first N digits of the bundled test set.
make_request() {
    $PY - "$EM_SRC_DIR/examples/digits/test.json" "$1" "$2" "${3:-}" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
n = int(sys.argv[3])
req = {"data": [x for row in d["data"][:n] for x in row], "sample_size": d["sample_size"]}
if sys.argv[4]:
    req.update(json.loads(sys.argv[4]))
json.dump(req, open(sys.argv[2], "w"))
PYEOF
}

# post PATH BODYFILE OUT -> prints the HTTP status
post() { curl -s -o "$3" -w '%{http_code}' -X POST -H 'Content-Type: application/json' --data-binary @"$2" "$URL$1"; }

# jq-like field access: jget FILE EXPR (python expression on d)
jget() { $PY -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

# Reference predictions of the quantized model for the first N test digits, computed locally
# with `enclaveml model run` (independent of the cluster).
reference_predictions() { # reference_predictions MODEL N OUT
    make_request "$T/ref_in.json" "$2"
    "$EM_BIN" model run "$1" --input "$T/ref_in.json" --output "$T/ref_out.json" > /dev/null 2>&1 ||
        { echo "model run failed"; exit 1; }
    jget "$T/ref_out.json" 'd["predictions"]' > "$3"
}

# wait_exit PID [tries]: waits for a process expected to exit by itself; kills it if it does not.
# Sets RC to its exit status (999 if it had to be killed). Not for use inside $(...).
wait_exit() {
    local pid=$1 n=${2:-100}
    for _ in $(seq "$n"); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; wait "$pid" 2>/dev/null; RC=999; return; fi
    wait "$pid"; RC=$?
}
