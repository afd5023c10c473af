#!/usr/bin/env bash
# Installs the Debian packages named on the command line that are not installed yet, waiting
# for dpkg's lock when another process holds it. The first argument is the caller's name for
# messages: `bash tools/apt-install.sh install-pcsc pcscd swig`.
# Needs root (CI runs as root); without root it only reports what is missing (exit 1).
set -euo pipefail
who="$1"
shift

missing=()
for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
((${#missing[@]})) || exit 0

if [[ $(id -u) -ne 0 ]]; then
    echo "$who: missing ${missing[*]} and not root: cannot install" >&2
    exit 1
fi

apt_retry() {
    # Another process may hold dpkg's lock: wait and retry (up to ~10 minutes). Any other
    # failure (an unknown package, no archive) is final at once.
    local i err
    err="$(mktemp)"
    for i in $(seq 1 60); do
        if DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=10 "$@" 2>"$err"; then
            rm -f "$err"
            return 0
        fi
        if ! grep -qi "lock" "$err"; then
            cat "$err" >&2
            rm -f "$err"
            echo "$who: apt-get $1 failed" >&2
            return 1
        fi
        echo "$who: apt-get $1 is waiting for dpkg's lock, retry $i" >&2
        sleep 10
    done
    rm -f "$err"
    return 1
}

echo "$who: installing ${missing[*]}" >&2
apt_retry update -q >/dev/null
apt_retry install -y -q --no-install-recommends "${missing[@]}" >/dev/null
