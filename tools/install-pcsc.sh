#!/usr/bin/env bash
# Installs and starts the PC/SC stack the card-reader layer (reader/) runs on:
# Debian's pcscd, the vsmartcard-vpcd virtual reader driver (two slots: the card on TCP port
# 35963, the SAM on 35964), libpcsclite-dev and swig (pyscard builds from source with them).
# Idempotent: installs only what is missing, starts pcscd only when it is not running.
# Needs root (CI runs as root); without root it only reports what is missing.
set -euo pipefail

PACKAGES=(pcscd vsmartcard-vpcd libpcsclite-dev swig)
VPCD_CONF=/etc/reader.conf.d/vpcd

bash "$(dirname "$0")/apt-install.sh" install-pcsc "${PACKAGES[@]}"

# vpcd: one DEVICENAME gives VPCD_MAXSLOTS (2) slots, "Virtual PCD 00 00" on port 0x8C7B
# (35963) and "Virtual PCD 00 01" on 0x8C7C (35964). Write the configuration if it is absent.
if [[ ! -f $VPCD_CONF ]]; then
    cat >"$VPCD_CONF" <<'CONF'
FRIENDLYNAME "Virtual PCD"
DEVICENAME   /dev/null:0x8C7B
LIBPATH      /usr/lib/pcsc/drivers/serial/libifdvpcd.so
CHANNELID    0x8C7B
CONF
fi

# No systemd here: start the daemon directly (it forks into the background).
if ! pgrep -x pcscd >/dev/null; then
    mkdir -p /run/pcscd
    pcscd
    for _ in $(seq 1 50); do
        [[ -S /run/pcscd/pcscd.comm ]] && break
        sleep 0.1
    done
fi
if [[ ! -S /run/pcscd/pcscd.comm ]]; then
    echo "install-pcsc: pcscd did not start" >&2
    exit 1
fi
echo "install-pcsc: pcscd running (pid $(pgrep -x pcscd | head -1)), vpcd slots on 35963/35964"
