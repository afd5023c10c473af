"""End-to-end demonstration and timing on the real PC/SC stack with the emulators.

``python -m reader.demo FVC_FOLDER [--repeats N] [--trace]`` inserts the emulated SAM and a
blank card into the vpcd slots, personalises the card from impression 1 of fingers 101 (right
index) and 102 (left index) of an FVC set, then times full read + verification runs with
impressions 2 and prints the split (transport, SAM, host cryptography, decoding, extraction,
matching) and, with ``--trace``, the APDU exchange of one verification.

Examples
--------
>>> summarise([0.2, 0.1, 0.3])
'median 0.200 s, min 0.100 s, max 0.300 s'
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from afis import extract, load_image
from afis.template import FingerPosition
from reader import constants as c
from reader.emulator import EmulatedCard, EmulatedSam, VpcdLink
from reader.personalise import CardRecord, personalise
from reader.profile import Biodata
from reader.sam import SamClient
from reader.security_object import Issuer
from reader.sm import AES
from reader.transport import CardLink, TraceEntry, wait_for_removal
from reader.verify import ImageFileScanner, verify

__all__ = ["main", "summarise"]


def summarise(values: list[float]) -> str:
    """Median, min and max of durations in seconds."""
    return (
        f"median {statistics.median(values):.3f} s, min {min(values):.3f} s, "
        f"max {max(values):.3f} s"
    )


def _photo() -> bytes:
    im = Image.new("RGB", (120, 150), (200, 210, 230))
    draw = ImageDraw.Draw(im)
    draw.ellipse((30, 20, 90, 100), fill=(180, 140, 110))
    draw.rectangle((15, 100, 105, 150), fill=(40, 40, 90))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=80)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    """Run the demonstration; exit status 1 when a verification was not "berhasil"."""
    p = argparse.ArgumentParser(prog="python -m reader.demo", description=__doc__)
    p.add_argument("folder", type=Path, help="an FVC set (101_1.tif ...)")
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--trace", action="store_true")
    args = p.parse_args(argv)
    master, pin, issuer = bytes(range(16)), "246810", Issuer.from_seed(11)
    sam = EmulatedSam({AES.code: master}, pin, [issuer.certificate])
    card = EmulatedCard.manufacture(bytes.fromhex("04a1b2c3d4e5f6"), master)
    fingers = {}
    for finger, position in ((101, FingerPosition.RIGHT_INDEX), (102, FingerPosition.LEFT_INDEX)):
        template = extract(load_image(args.folder / f"{finger}_1.tif", dpi=500))
        fingers[position] = dataclasses.replace(template, finger_position=position)
    ink = np.zeros((c.SIGNATURE_HEIGHT, c.SIGNATURE_WIDTH), bool)
    ink[20:23, 10:150] = True
    record = CardRecord(Biodata.example(), _photo(), ink, fingers, "20261123", "3171")
    trace: list[TraceEntry] = []
    live = {
        FingerPosition.RIGHT_INDEX: [args.folder / "101_2.tif"],
        FingerPosition.LEFT_INDEX: [args.folder / "102_2.tif"],
    }
    with VpcdLink(sam, c.VPCD_PORT_SAM), VpcdLink(card, c.VPCD_PORT_CARD):
        sam_link = CardLink("Virtual PCD 00 01", "sam", trace=trace).connect()
        card_link = CardLink("Virtual PCD 00 00", "card", trace=trace).connect()
        client = SamClient(sam_link)
        client.unlock(pin)
        t = time.perf_counter()
        personalise(card_link, client, record, issuer)
        print(f"personalisation: {time.perf_counter() - t:.3f} s")
        rows = []
        for _ in range(args.repeats):
            trace.clear()
            result = verify(card_link, client, ImageFileScanner(live))
            rows.append(result.timings)
            if result.outcome != "berhasil":
                print(f"unexpected outcome: {result.outcome}: {result.message}")
                return 1
        sam_link.close()
        card_link.close()
    wait_for_removal("Virtual PCD 00 00")
    print(f"{args.repeats} full read + verification runs ({result.outcome}):")
    for name in ("total", "transport", "sam", "host_crypto", "decode", "extract", "match"):
        print(f"  {name:12} {summarise([getattr(r, name) for r in rows])}")
    card_apdus = sum(e.device == "card" for e in trace)
    print(f"APDUs per verification: {card_apdus} to the card, {len(trace) - card_apdus} to the SAM")
    if args.trace:
        for entry in trace:
            print(entry.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
