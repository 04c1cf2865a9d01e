#!/bin/bash
# 50 concurrent REST requests (different samples, mixed strategies) against three workers: every
# answer is 200, verified, and equal to the local reference.
source "$(dirname "$0")/cluster_lib.sh"
echo "cluster_load (tmp $T)"
make_model "$T/model.eml"
reference_predictions "$T/model.eml" 100 "$T/ref.txt"
cp "$T/ref_out.json" "$T/ref100.json"
start_aggregator agg true 60
start_worker wa 48 "$T/model.eml"
start_worker wb 12 "$T/model.eml"
start_worker wc 16 "$T/model.eml"
for w in wa wb wc; do wait_state $w healthy || bad "worker $w registered"; done
$PY - "$URL" "$EM_SRC_DIR/examples/digits/test.json" "$T/ref100.json" > "$T/load.out" 2>&1 <<'PYEOF'
import json, sys, time, urllib.request, urllib.error
from concurrent.futures import ThreadPoolExecutor
url, test, refp = sys.argv[1:4]
d = json.load(open(test)); ref = json.load(open(refp))["predictions"]
ss = d["sample_size"]
splits = ["by_capacity", "equal", "redundant"]
def one(i):
    n = 1 + i % 3
    s = (2 * i) % (100 - n)
    body = {"data": [x for r in d["data"][s:s+n] for x in r], "sample_size": ss, "split_strategy": splits[i % 3]}
    req = urllib.request.Request(url + "/inference", data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=110) as r:
            out = json.load(r); code = r.status
    except urllib.error.HTTPError as e:
        return (i, e.code, str(e.read()[:200]))
    ok = code == 200 and out["verified"] and out["predictions"] == ref[s:s+n]
    return (i, code if ok else -1, "" if ok else json.dumps(out)[:200])
t0 = time.time()
with ThreadPoolExecutor(max_workers=50) as ex:
    res = list(ex.map(one, range(50)))
bad = [r for r in res if r[1] != 200]
print(f"{50 - len(bad)}/50 answered correctly in {time.time() - t0:.1f} s")
for r in bad[:5]:
    print("bad:", r)
sys.exit(1 if bad else 0)
PYEOF
rc=$?
cat "$T/load.out"
check "50 concurrent requests all verified and correct" [ $rc = 0 ]
req_ok=$(curl -s "$URL/metrics" | awk '/^enclaveml_requests_total\{outcome="ok"\}/ {print $2}')
check "metrics count 50 good requests (got $req_ok)" [ "$req_ok" = 50 ]
finish
