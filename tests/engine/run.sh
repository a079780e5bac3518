#!/usr/bin/env bash
# run.sh — builds the engine sources (found/engine/*.cc) together with
# tests/engine/engine_test.cc into build/engine-tests/, once plain and once under
# AddressSanitizer + UndefinedBehaviorSanitizer, runs each build, and exits nonzero if
# either fails. The engine is compiled from source (not the installed .so) so the
# sanitizers instrument it; its objects are linked straight into the test binary.
#
# Usage: bash tests/engine/run.sh [plain|sanitize|all]     (default: all)
#        extra arguments are passed to the test binary as case-name filters.
#
# Objects are rebuilt only when their source, an engine header or the flags changed, and
# both builds compile in parallel (one job per core), so a rerun costs mostly the run.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out="$root/build/engine-tests"
which_builds=${1:-all}
shift || true
case "$which_builds" in
    plain) variants=(plain) ;;
    sanitize) variants=(sanitize) ;;
    all) variants=(plain sanitize) ;;
    *) echo "usage: bash tests/engine/run.sh [plain|sanitize|all] [case-filter ...]" >&2; exit 2 ;;
esac

cxx=${CXX:-g++}
jobs=$(nproc 2>/dev/null || echo 2)
base_flags="-std=c++17 -g -O1 -pthread -I$root"
test_warnings="-Wall -Wextra"

flags_for() {
    case "$1" in
        plain) echo "$base_flags" ;;
        sanitize) echo "$base_flags -fsanitize=address,undefined -fno-omit-frame-pointer" ;;
    esac
}

engine_sources=("$root"/found/engine/*.cc)
engine_headers=("$root"/found/engine/*.h)
test_source="$root/tests/engine/engine_test.cc"

# An object is current when the hash of its source, every engine header and its flags,
# taken before it was compiled, equals the hash now. Hashing before compiling means an
# edit made while the compiler runs (others edit the engine concurrently) forces a
# rebuild next time instead of leaving objects built from mixed header versions.
headers_hash=$(cat "${engine_headers[@]}" | sha1sum | cut -d' ' -f1)

# fingerprint VARIANT SOURCE
fingerprint() {
    { echo "$headers_hash"; flags_for "$1"; cat "$2"; } | sha1sum | cut -d' ' -f1
}

# compile VARIANT SOURCE OBJECT FINGERPRINT
compile() {
    local variant=$1 source=$2 object=$3 stamp=$4 extra=""
    [[ "$source" == "$test_source" ]] && extra=$test_warnings
    # shellcheck disable=SC2046
    if ! $cxx $(flags_for "$variant") $extra -c "$source" -o "$object.tmp" 2>"$object.log"; then
        echo "compile failed ($variant): ${source#"$root"/}" >&2
        cat "$object.log" >&2
        rm -f "$object.tmp"
        return 1
    fi
    [[ -s "$object.log" ]] && { echo "warnings ($variant): ${source#"$root"/}" >&2; cat "$object.log" >&2; }
    mv "$object.tmp" "$object"
    echo "$stamp" >"$object.stamp"
}

# ---------------------------------------------------------------- build
build_start=$SECONDS
declare -a pending=()
for variant in "${variants[@]}"; do
    dir="$out/$variant"
    mkdir -p "$dir/obj"
    # Objects of sources that no longer exist must not be linked.
    for object in "$dir"/obj/*.o; do
        [[ -e "$object" ]] || continue
        name=$(basename "${object%.o}")
        [[ -f "$root/found/engine/$name.cc" || "$name" == engine_test ]] || rm -f "$object" "$object.stamp"
    done
    for source in "${engine_sources[@]}" "$test_source"; do
        object="$dir/obj/$(basename "${source%.cc}").o"
        stamp=$(fingerprint "$variant" "$source")
        if [[ ! -f "$object" || "$(cat "$object.stamp" 2>/dev/null)" != "$stamp" ]]; then
            pending+=("$variant|$source|$object|$stamp")
        fi
    done
done

build_failed=0
running=0
for job in ${pending[@]+"${pending[@]}"}; do
    IFS='|' read -r variant source object stamp <<<"$job"
    compile "$variant" "$source" "$object" "$stamp" &
    running=$((running + 1))
    if (( running >= jobs )); then
        wait -n || build_failed=1
        running=$((running - 1))
    fi
done
while (( running > 0 )); do
    wait -n || build_failed=1
    running=$((running - 1))
done
(( build_failed )) && { echo "build failed" >&2; exit 1; }

for variant in "${variants[@]}"; do
    dir="$out/$variant"
    # shellcheck disable=SC2046
    $cxx $(flags_for "$variant") "$dir"/obj/*.o -o "$dir/engine_test"
done
echo "built ${variants[*]} in $((SECONDS - build_start)) s (${#pending[@]} objects compiled)"

# ---------------------------------------------------------------- run
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1
status=0
for variant in "${variants[@]}"; do
    binary="$out/$variant/engine_test"
    if [[ "$variant" == sanitize ]]; then
        # LeakSanitizer needs ptrace-like thread suspension; some sandboxes forbid it.
        if "$binary" --list 2>&1 >/dev/null | grep -q "LeakSanitizer has encountered a fatal error"; then
            echo "note: LeakSanitizer cannot run here (ptrace restricted); running with detect_leaks=0"
            export ASAN_OPTIONS=detect_leaks=0
        fi
    fi
    options=""
    [[ "$variant" == sanitize ]] && options=" (ASAN_OPTIONS=$ASAN_OPTIONS UBSAN_OPTIONS=$UBSAN_OPTIONS)"
    echo "== $variant: ${binary#"$root"/}$options"
    run_start=$SECONDS
    if "$binary" "$@"; then
        echo "== $variant: passed in $((SECONDS - run_start)) s"
    else
        echo "== $variant: FAILED (exit $?) after $((SECONDS - run_start)) s"
        status=1
    fi
done
exit $status
