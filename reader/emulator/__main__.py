"""Run an emulated card or SAM as a process on a vpcd slot.

``python -m reader.emulator new-card STATE --uid HEX --master-file F [--profile aes|3des]``
makes a blank chip; ``new-sam STATE --master-file F [--tdes-master-file F] --issuer-cert PEM``
makes a SAM (its PIN from ``AFIS_SAM_PIN``); ``serve STATE [--port N]`` inserts it into the
reader until interrupted, and saves what was written to it (personalisation, PIN tries)
back into STATE on exit.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

from cryptography import x509

from afis.atomic import atomic_write
from reader import constants as c
from reader.emulator.card import EmulatedCard
from reader.emulator.sam import EmulatedSam
from reader.emulator.vpcd import VpcdLink
from reader.sm import AES, TDES


def _save(path: Path, chip: EmulatedCard | EmulatedSam) -> None:
    text = json.dumps(chip.to_state(), indent=1).encode()
    atomic_write(path, lambda f: f.write(text))


def _load(path: Path) -> EmulatedCard | EmulatedSam:
    state = json.loads(Path(path).read_text())
    kind = state.get("kind") if isinstance(state, dict) else None
    if kind == "ektp-card":
        return EmulatedCard.from_state(state)
    if kind == "ektp-sam":
        return EmulatedSam.from_state(state)
    raise ValueError(f"{path}: not an emulator state file")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reader.emulator", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("new-card", help="make a blank chip")
    p.add_argument("state", type=Path)
    p.add_argument("--uid", required=True, help="7-byte UID in hex")
    p.add_argument("--master-file", type=Path, required=True, help="master key (raw bytes)")
    p.add_argument("--profile", choices=("aes", "3des"), default="aes")
    p = sub.add_parser("new-sam", help="make a SAM (PIN from AFIS_SAM_PIN)")
    p.add_argument("state", type=Path)
    p.add_argument("--master-file", type=Path, required=True, help="AES master key (16 bytes)")
    p.add_argument("--tdes-master-file", type=Path, help="3DES master key (24 bytes)")
    p.add_argument("--issuer-cert", type=Path, action="append", default=[])
    p = sub.add_parser("serve", help="insert the chip into a vpcd slot until interrupted")
    p.add_argument("state", type=Path)
    p.add_argument("--port", type=int, help="vpcd port (default: card 35963, SAM 35964)")
    args = parser.parse_args(argv)
    try:
        if args.command == "new-card":
            profile = AES if args.profile == "aes" else TDES
            card = EmulatedCard.manufacture(
                bytes.fromhex(args.uid), args.master_file.read_bytes(), profile
            )
            _save(args.state, card)
        elif args.command == "new-sam":
            masters = {AES.code: args.master_file.read_bytes()}
            if args.tdes_master_file:
                masters[TDES.code] = args.tdes_master_file.read_bytes()
            pin = os.environ.get("AFIS_SAM_PIN", "")
            certs = [x509.load_pem_x509_certificate(p.read_bytes()) for p in args.issuer_cert]
            _save(args.state, EmulatedSam(masters, pin, certs))
        else:
            chip = _load(args.state)
            port = args.port or (
                c.VPCD_PORT_CARD if isinstance(chip, EmulatedCard) else c.VPCD_PORT_SAM
            )
            done = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: done.set())
            link = VpcdLink(chip, port).start()
            print(f"{chip!r} inserted on vpcd port {port}; Ctrl-C to remove", flush=True)
            try:
                while not done.wait(0.2) and link.connected:
                    pass
            except KeyboardInterrupt:
                pass
            finally:
                link.stop()
                _save(args.state, chip)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
