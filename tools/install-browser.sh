#!/usr/bin/env bash
# Installs the headless browser of the adjudication workstation's browser tests
# (tests/test_workstation_browser.py): Debian's chromium and chromium-driver
# (/usr/bin/chromium, /usr/bin/chromedriver), which selenium drives.
# Idempotent: installs only what is missing. Needs root (CI runs as root); without root it
# only reports what is missing.
set -euo pipefail

PACKAGES=(chromium chromium-driver)

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

apt_retry() {
    # Another process may hold dpkg's lock: wait and retry (up to ~10 minutes).
    local i
    for i in $(seq 1 60); do
        if DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=10 "$@"; then
            return 0
        fi
        echo "install-browser: apt-get $1 failed (dpkg lock busy?), retry $i" >&2
        sleep 10
    done
    return 1
}

if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "install-browser: missing ${missing[*]} and not root: cannot install" >&2
        exit 1
    fi
    echo "install-browser: installing ${missing[*]}"
    apt_retry update -q >/dev/null
    apt_retry install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

for binary in /usr/bin/chromium /usr/bin/chromedriver; do
    if [[ ! -x $binary ]]; then
        echo "install-browser: $binary is missing after the install" >&2
        exit 1
    fi
done
echo "install-browser: $(/usr/bin/chromium --version 2>/dev/null | head -1), chromedriver at /usr/bin/chromedriver"
