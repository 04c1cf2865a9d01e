# Shared helpers for the CLI contract tests (sourced).
set -u
BIN=${EM_BIN:?EM_BIN must point to the enclaveml binary}
SRC=${EM_SRC_DIR:?EM_SRC_DIR must point to the source tree}
PY=/usr/bin/python3
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
passed=0
failed=0

ok() { passed=$((passed + 1)); echo "  ok   $1"; }
bad() { failed=$((failed + 1)); echo "  FAIL $1"; }

# expect_ok NAME CMD...: command must exit 0
expect_ok() {
  local name=$1; shift
  if "$@" >"$WORK/out" 2>"$WORK/err"; then ok "$name"; else bad "$name (exit $?): $(head -3 "$WORK/err")"; fi
}

# expect_fail NAME PATTERN CMD...: command must exit non-zero with exactly one stderr line
# starting "enclaveml: " and matching PATTERN.
expect_fail() {
  local name=$1 pat=$2; shift 2
  if "$@" >"$WORK/out" 2>"$WORK/err"; then bad "$name (unexpected success)"; return; fi
  local lines
  lines=$(grep -c . "$WORK/err" || true)
  if [[ $lines -ne 1 ]] || ! grep -q '^enclaveml: ' "$WORK/err" || ! grep -qE -- "$pat" "$WORK/err"; then
    bad "$name: expected one line matching '$pat', got: $(head -5 "$WORK/err")"
  else
    ok "$name"
  fi
}

# bump_output OUT.json NEW.json I: a copy with output_q[I] raised by one
bump_output() {
  $PY -c '
import json, sys
o = json.load(open(sys.argv[1])); o["output_q"][int(sys.argv[3])] += 1
json.dump(o, open(sys.argv[2], "w"))' "$1" "$2" "$3"
}

# flip_input INPUT.json NEW.json I: a copy with value I of the first sample changed (a value
# near 0 becomes 1.0, any other 0.0); "data" may be one flat sample or a list of rows
flip_input() {
  $PY -c '
import json, sys
d = json.load(open(sys.argv[1])); i = int(sys.argv[3])
rows = d["data"] if isinstance(d["data"][0], list) else [d["data"]]
rows[0][i] = 0.0 if abs(rows[0][i]) > 0.05 else 1.0
json.dump(d, open(sys.argv[2], "w"))' "$1" "$2" "$3"
}

finish() {
  echo "$passed passed, $failed failed"
  [[ $failed -eq 0 ]]
}
