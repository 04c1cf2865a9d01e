#!/bin/bash
# Cluster benchmark (not a test): end-to-end latency of a one-sample verified request, throughput
# with 1, 2 and 4 local workers at batch 256, aggregator overhead and verification share.
# usage: bench/bench_cluster.sh BUILD_DIR [REQUESTS]     (e.g. bench/bench_cluster.sh build 10)
# Every worker runs with `threads: 1`; all processes share this machine's cores, so with W
# workers on C cores, throughput stops scaling at W ~ C.
set -u
BUILD=${1:?usage: bench_cluster.sh BUILD_DIR [REQUESTS]}
REQS=${2:-10}
export EM_BIN=$(realpath "$BUILD/src/cli/enclaveml")
export EM_SRC_DIR=$(realpath "$(dirname "$0")/..")
export EM_LOG=warn
source "$EM_SRC_DIR/tests/cluster/cluster_lib.sh"
make_model "$T/model.eml"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"

measure() { # measure N_SAMPLES REQUESTS LABEL
    $PY - "$URL" "$EM_SRC_DIR/examples/digits/test.json" "$1" "$2" "$3" <<'PYEOF'
import json, statistics, sys, time, urllib.request
url, test, n, reqs, label = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
d = json.load(open(test)); rows = d["data"]
rows = (rows * (n // len(rows) + 1))[:n]
body = json.dumps({"data": [x for r in rows for x in r], "sample_size": d["sample_size"]}).encode()
def post():
    t0 = time.perf_counter()
    with urllib.request.urlopen(urllib.request.Request(url + "/inference", data=body, method="POST")) as r:
        out = json.load(r)
    assert out["verified"], out
    return (time.perf_counter() - t0) * 1000, out
post()  # warm-up (connections, caches)
lat, prove, verify, agg = [], [], [], []
t0 = time.perf_counter()
for _ in range(reqs):
    ms, out = post()
    lat.append(ms)
    prove.append(out["timing"]["prove_ms_max"])
    # verification runs in the dispatch threads; the critical path holds one chunk's check
    verify.append(max(c["verify_ms"] for c in out["chunks"]))
    agg.append(out["inference_time_ms"])
wall = time.perf_counter() - t0
med = statistics.median
print(f"{label:28s} e2e {med(lat):8.1f} ms  worker prove {med(prove):8.1f} ms  verify {med(verify):7.1f} ms "
      f"({100 * med(verify) / med(agg):4.1f}% of aggregator time)  overhead {med(agg) - med(prove) - med(verify):6.1f} ms  "
      f"throughput {n * reqs / wall:8.1f} samples/s")
PYEOF
}

start_aggregator bench true 120 "  max_body_bytes: 67108864"
start_worker w1 16 "$T/model.eml"
wait_state w1 healthy || { echo "worker did not start"; exit 1; }
measure 1 "$((REQS * 3))" "1 worker, 1 sample"
measure 256 "$REQS" "1 worker, batch 256"
start_worker w2 16 "$T/model.eml"
wait_state w2 healthy
measure 256 "$REQS" "2 workers, batch 256"
start_worker w3 16 "$T/model.eml"
start_worker w4 16 "$T/model.eml"
wait_state w3 healthy; wait_state w4 healthy
measure 1 "$((REQS * 3))" "4 workers, 1 sample"
measure 256 "$REQS" "4 workers, batch 256"
