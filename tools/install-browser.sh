#!/usr/bin/env bash
# Installs the headless browser of the adjudication workstation's browser tests
# (tests/test_workstation_browser.py): Debian's chromium and chromium-driver
# (/usr/bin/chromium, /usr/bin/chromedriver), which selenium drives.
# Idempotent: installs only what is missing. Needs root (CI runs as root); without root it
# only reports what is missing.
set -euo pipefail

PACKAGES=(chromium chromium-driver)

bash "$(dirname "$0")/apt-install.sh" install-browser "${PACKAGES[@]}"

for binary in /usr/bin/chromium /usr/bin/chromedriver; do
    if [[ ! -x $binary ]]; then
        echo "install-browser: $binary is missing after the install" >&2
        exit 1
    fi
done
echo "install-browser: $(/usr/bin/chromium --version 2>/dev/null | head -1), chromedriver at /usr/bin/chromedriver"
