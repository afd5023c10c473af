#!/usr/bin/env bash
# Builds the native core with AddressSanitizer + UBSan into a scratch copy of the tree and runs
# the bad-input, stage and matcher tests against it. Any memory error aborts with a report (non-zero).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$root/afis" "$root/setup.py" "$root/pyproject.toml" "$root/README.md" "$root/tests" "$root/datasets" "$work/"
find "$work/afis" -name '*.so' -delete
cd "$work"
AFIS_SANITIZE=address python3 setup.py -q build_ext --inplace --force >/dev/null
export LD_PRELOAD="$(g++ -print-file-name=libasan.so):$(g++ -print-file-name=libubsan.so)"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
PYTHONPATH="$work" python3 -m pytest -q -p no:cacheprovider tests/test_bad_input.py tests/test_stages.py tests/test_match.py tests/test_match_kernels.py tests/test_hamming_scan.py "$@"
