#!/usr/bin/env bash
# FoundationDB's own bindingtester against found's embedded engine (docs/tester.md).
#
#   tests/bindingtester/run.sh FDB_CHECKOUT            (or FDB_SRC=FDB_CHECKOUT run.sh)
#   make bindingtester FDB_SRC=FDB_CHECKOUT
#
# FDB_CHECKOUT is a checkout of apple/foundationdb (main = the 8.0 harness); only its
# bindings/bindingtester and bindings/python/tests are used, and they are copied, never
# modified. The copy (in WORK, a fresh temporary directory unless given) gets:
#   - known_testers.py registering the `found` tester (this repo's .venv python running
#     `-m found.tester`);
#   - bindings/python/fdb linked to the pip-installed `fdb` package of the .venv (the
#     checkout lacks its generated apiversion.py/fdboptions.py);
#   - engine/libfdb_c.so linked to `python -m found lib-path`, on LD_LIBRARY_PATH, so the
#     driver, the python tester and found.tester all run on the embedded engine;
#   - a cluster file `found:WORK/store`;
#   - WORK/env.sh, setting that environment for running bindingtester.py by hand
#     (`source WORK/env.sh`, then `bindingtester found --test-name api --seed 7 --bisect`).
# Then it runs the tests of spec §6 and prints one line per run and a summary.
#
# Variables (all optional):
#   SEEDS        seeds of the `api --compare python` runs    (default: 1..10, i.e. `seq 1 10`)
#   DIRECTORY_SEEDS  seeds of the `directory --compare python` runs   (default: 1 2 3)
#   TUPLE_SEEDS      seeds of the `tuple --compare python` runs       (default: 1)
#   CONCURRENT_SEEDS seeds of the `--concurrency` runs (api, directory_hca) (default: 1)
#   NUM_OPS      operations per api/directory run             (default: 1000)
#   API_VERSION  --api-version of every non-scripted run      (default: 730; "random"
#                lets the driver choose one for each run)
#   TESTS        which runs, any of: scripted api tuple directory directory_hca api_concurrent
#                                                             (default: all of them)
#   CONCURRENCY  threads of the concurrent runs               (default: 5)
#   HCA_OPS      operations per directory_hca thread          (default: 100)
#   TIMEOUT      seconds per tester process                   (default: 600)
#   LOG_LEVEL    the driver's --logging-level in WORK/logs    (default: INFO)
#   WORK         scratch directory (kept; logs in WORK/logs)  (default: mktemp -d)
#   PYTHON       the python to use (default: this repo's .venv/bin/python)
# Exit status: 0 when every run passed, 1 when any failed, 2 on a setup problem.
set -euo pipefail

FDB_SRC=${1:-${FDB_SRC:-}}
if [ -z "$FDB_SRC" ]; then
    echo "usage: $0 FDB_CHECKOUT   (or FDB_SRC=FDB_CHECKOUT $0)" >&2
    echo "  FDB_CHECKOUT: a checkout of https://github.com/apple/foundationdb" >&2
    exit 2
fi
FDB_SRC=$(cd "$FDB_SRC" && pwd)
if [ ! -f "$FDB_SRC/bindings/bindingtester/bindingtester.py" ] \
    || [ ! -f "$FDB_SRC/bindings/python/tests/tester.py" ]; then
    echo "$FDB_SRC has no bindings/bindingtester/bindingtester.py or bindings/python/tests/tester.py" >&2
    exit 2
fi

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PYTHON=${PYTHON:-$REPO/.venv/bin/python}
if [ ! -x "$PYTHON" ]; then
    echo "$PYTHON not found: run 'make install' in $REPO first" >&2
    exit 2
fi
PYTHON=$(cd "$(dirname "$PYTHON")" && pwd)/$(basename "$PYTHON")
case "$PYTHON" in
    *" "*) echo "the bindingtester splits tester commands on spaces: $PYTHON has one" >&2; exit 2 ;;
esac

SEEDS=${SEEDS:-$(seq 1 10)}
DIRECTORY_SEEDS=${DIRECTORY_SEEDS:-1 2 3}
TUPLE_SEEDS=${TUPLE_SEEDS:-1}
CONCURRENT_SEEDS=${CONCURRENT_SEEDS:-1}
NUM_OPS=${NUM_OPS:-1000}
API_VERSION=${API_VERSION:-730}
TESTS=${TESTS:-scripted api tuple directory directory_hca api_concurrent}
CONCURRENCY=${CONCURRENCY:-5}
HCA_OPS=${HCA_OPS:-100}
TIMEOUT=${TIMEOUT:-600}
LOG_LEVEL=${LOG_LEVEL:-INFO}
WORK=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/found-bindingtester.XXXXXX")}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)

# --- the scratch copy ------------------------------------------------------------------
BINDINGS=$WORK/bindings
rm -rf "$BINDINGS" "$WORK/engine" "$WORK/store"
mkdir -p "$BINDINGS/python" "$WORK/engine" "$WORK/store" "$WORK/logs"
cp -R "$FDB_SRC/bindings/bindingtester" "$BINDINGS/bindingtester"
cp -R "$FDB_SRC/bindings/python/tests" "$BINDINGS/python/tests"
FDB_PACKAGE=$("$PYTHON" -c 'import os, fdb; print(os.path.dirname(fdb.__file__))')
ln -s "$FDB_PACKAGE" "$BINDINGS/python/fdb"
ln -s "$("$PYTHON" -m found lib-path)" "$WORK/engine/libfdb_c.so"
cat >> "$BINDINGS/bindingtester/known_testers.py" <<EOF

# added by found's tests/bindingtester/run.sh
testers["found"] = Tester(
    "found", "$PYTHON -m found.tester", 2040, 610, MAX_API_VERSION, types=ALL_TYPES
)
EOF
CLUSTER=$WORK/bt.cluster
echo "found:$WORK/store" > "$CLUSTER"

# the driver and both testers load the engine; `python3` (the python tester) is the .venv's
export LD_LIBRARY_PATH=$WORK/engine${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export PATH=$(dirname "$PYTHON"):$PATH

cat > "$WORK/env.sh" <<ENV
# source this to run bindingtester.py by hand on the same setup
export LD_LIBRARY_PATH="$LD_LIBRARY_PATH"
export PATH="$PATH"
CLUSTER="$CLUSTER"
cd "$BINDINGS/bindingtester"
bindingtester() { "$PYTHON" bindingtester.py --cluster-file "$CLUSTER" "\$@"; }
ENV

FDB_COMMIT=$(git -C "$FDB_SRC" rev-parse HEAD 2>/dev/null || echo unknown)
FDB_VERSION=$("$PYTHON" -c 'import fdb.apiversion as v; print(v.FDB_VERSION, v.LATEST_API_VERSION)')
echo "found bindingtester: FDB checkout $FDB_SRC (commit $FDB_COMMIT)"
echo "  fdb package $FDB_VERSION at $FDB_PACKAGE; engine $(readlink "$WORK/engine/libfdb_c.so")"
echo "  scratch $WORK; cluster file $CLUSTER ($(cat "$CLUSTER"))"

# --- the runs ----------------------------------------------------------------------------
PASSED=0
FAILED=0
FAILURES=()

api_version_args() {
    if [ "$API_VERSION" != random ]; then
        echo "--api-version $API_VERSION"
    fi
}

# run NAME ARGS...: one bindingtester run, its output in WORK/logs/NAME.log
run() {
    local name=$1
    shift
    local log=$WORK/logs/$name.log
    local started=$SECONDS status=0
    (cd "$BINDINGS/bindingtester" && "$PYTHON" bindingtester.py \
        --cluster-file "$CLUSTER" --timeout "$TIMEOUT" --logging-level "$LOG_LEVEL" "$@") \
        > "$log" 2>&1 || status=$?
    local elapsed=$((SECONDS - started))
    local api
    api=$(sed -n 's/^Creating test at API version \([0-9]*\).*/\1/p' "$log" | head -n 1)
    if [ "$status" -eq 0 ]; then
        PASSED=$((PASSED + 1))
        printf 'PASS  %-30s %4ds  api %s\n' "$name" "$elapsed" "${api:-?}"
    else
        FAILED=$((FAILED + 1))
        FAILURES+=("$name: bindingtester.py $* (exit $status, log $log)")
        printf 'FAIL  %-30s %4ds  api %s, exit %s, log %s\n' \
            "$name" "$elapsed" "${api:-?}" "$status" "$log"
        grep -v '^$' "$log" | tail -n 25 | sed 's/^/      /'
    fi
}

# compared_runs TEST SEEDS [ARGS...]: one run of TEST per seed, compared with FDB's own
# Python tester, named TEST-seed-N.
compared_runs() {
    local test=$1 seeds=$2 seed
    shift 2
    for seed in $seeds; do
        # shellcheck disable=SC2046  # api_version_args is meant to split
        run "$test-seed-$seed" found --test-name "$test" --compare python --seed "$seed" \
            "$@" $(api_version_args)
    done
}

# shellcheck disable=SC2046  # api_version_args is meant to split
for test in $TESTS; do
    case "$test" in
        scripted)
            run scripted found --test-name scripted ;;
        api) compared_runs api "$SEEDS" --num-ops "$NUM_OPS" ;;
        tuple) compared_runs tuple "$TUPLE_SEEDS" ;;
        directory) compared_runs directory "$DIRECTORY_SEEDS" --num-ops "$NUM_OPS" ;;
        directory_hca)
            for seed in $CONCURRENT_SEEDS; do
                run "directory_hca-c$CONCURRENCY-seed-$seed" found --test-name directory_hca \
                    --num-ops "$HCA_OPS" --concurrency "$CONCURRENCY" --seed "$seed" \
                    $(api_version_args)
            done ;;
        api_concurrent)
            for seed in $CONCURRENT_SEEDS; do
                run "api-c$CONCURRENCY-seed-$seed" found --test-name api --num-ops "$NUM_OPS" \
                    --concurrency "$CONCURRENCY" --seed "$seed" $(api_version_args)
            done ;;
        *)
            echo "unknown test '$test' in TESTS" >&2
            exit 2 ;;
    esac
done

echo "passed $PASSED, failed $FAILED (logs in $WORK/logs)"
for failure in "${FAILURES[@]+"${FAILURES[@]}"}"; do
    echo "  $failure"
done
[ "$FAILED" -eq 0 ]
