#!/usr/bin/env bash
# The services the test suite talks to, installed from Debian's packages and started:
#   - the PC/SC stack of the card-reader tests (pcscd + vsmartcard-vpcd; swig and
#     libpcsclite-dev, with which pip then builds pyscard, the `reader` extra);
#   - headless Chromium and its chromedriver for the workstation's browser tests
#     (tools/install-browser.sh);
#   - a throwaway PostgreSQL server for the record store's tests (tools/start-postgres.sh, on
#     its default port, where the tests look for it).
# Installing needs root. Without it, or without the package archive, this says what is missing
# and the tests concerned skip with a reason, except under CI=true, where it fails here.
set -uo pipefail
cd "$(dirname "$0")/.."
required=false
[[ "${CI:-}" == "true" ]] && required=true
status=0

if bash tools/install-pcsc.sh; then
    if ! python3 -c "import smartcard" 2>/dev/null; then
        python3 -m pip install -q "pyscard>=2.0" \
            || { echo "test-services: pyscard did not install" >&2; status=1; }
    fi
else
    echo "test-services: no PC/SC stack: the card-reader tests will skip" >&2
    status=1
fi

if ! bash tools/install-browser.sh; then
    echo "test-services: no chromium/chromedriver: the workstation's browser tests will skip" >&2
    status=1
fi

if url="$(bash tools/start-postgres.sh)"; then
    echo "test-services: PostgreSQL at $url"
else
    echo "test-services: no PostgreSQL server: the store's PostgreSQL tests will skip" >&2
    status=1
fi

if $required && ((status)); then
    exit 1
fi
exit 0
