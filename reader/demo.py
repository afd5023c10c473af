"""End-to-end demonstration and timing on the real PC/SC stack with the emulators.

``python -m reader.demo FVC_FOLDER [--repeats N] [--trace]`` inserts the emulated SAM and a
blank card into the vpcd slots, personalises the card from impression 1 of fingers 101 (right
index) and 102 (left index) of an FVC set, then times full read + verification runs with
impressions 2 and prints the split (transport, SAM, host cryptography, decoding, extraction,
matching) and, with ``--trace``, the APDU exchange of one verification.

``--acceptance`` runs the acceptance protocol instead: five cards from impression 1 of
fingers (101, 102) ... (109, 110) as right and left index, each personalised and read back
through the stack; genuine = impressions 2-8 of the same fingers (single attempts under each
policy, and up to four attempts: impressions k..k+3, cyclic, under "fused" and "both"),
impostor = impressions 1-8 of the other cards' fingers (single attempts under "fused" and
under "either", the most permissive).

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


PAIRS = ((101, 102), (103, 104), (105, 106), (107, 108), (109, 110))


def acceptance(folder: Path) -> dict[str, tuple[int, int]]:
    """The acceptance protocol on one FVC set: name -> (berhasil, attempts)."""
    from reader.session import read_card
    from reader.verify import VerifyOptions, match_card

    right, left = FingerPosition.RIGHT_INDEX, FingerPosition.LEFT_INDEX
    templates = {
        (f, i): extract(load_image(folder / f"{f}_{i}.tif", dpi=500))
        for pair in PAIRS
        for f in pair
        for i in range(1, 9)
    }
    master, pin, issuer = bytes(range(16)), "246810", Issuer.from_seed(11)
    sam = EmulatedSam({AES.code: master}, pin, [issuer.certificate])
    names = (
        "genuine fused",
        "genuine fused 4",
        "genuine both",
        "genuine both 4",
        "genuine either",
        "impostor fused",
        "impostor either",
    )
    counts = {k: [0, 0] for k in names}

    def tally(name: str, fingers, live, options) -> None:
        result = match_card(fingers, ImageFileScanner(live), options)
        counts[name][0] += result.outcome == "berhasil"
        counts[name][1] += 1

    with VpcdLink(sam, c.VPCD_PORT_SAM):
        client = SamClient(CardLink("Virtual PCD 00 01", "sam").connect())
        client.unlock(pin)
        for n, (fr, fl) in enumerate(PAIRS):
            fingers = {
                right: dataclasses.replace(templates[fr, 1], finger_position=right),
                left: dataclasses.replace(templates[fl, 1], finger_position=left),
            }
            ink = np.zeros((c.SIGNATURE_HEIGHT, c.SIGNATURE_WIDTH), bool)
            record = CardRecord(Biodata.example(), _photo(), ink, fingers, "20261123", "3171")
            card = EmulatedCard.manufacture(bytes([4, 0, 0, 0, 0, 0, n]), master)
            with VpcdLink(card, c.VPCD_PORT_CARD):
                link = CardLink("Virtual PCD 00 00", "card").connect()
                personalise(link, client, record, issuer)
                chip = read_card(link, client).fingers
                link.close()
            wait_for_removal("Virtual PCD 00 00")
            for i in range(2, 9):
                live = {right: [templates[fr, i]], left: [templates[fl, i]]}
                tally("genuine fused", chip, live, VerifyOptions(max_attempts=1))
                tally("genuine both", chip, live, VerifyOptions("both", max_attempts=1))
                tally("genuine either", chip, live, VerifyOptions("either", max_attempts=1))
                tries = [2 + (i - 2 + j) % 7 for j in range(4)]
                live4 = {
                    right: [templates[fr, k] for k in tries],
                    left: [templates[fl, k] for k in tries],
                }
                tally("genuine fused 4", chip, live4, VerifyOptions())
                tally("genuine both 4", chip, live4, VerifyOptions("both"))
            for other_r, other_l in PAIRS:
                if (other_r, other_l) != (fr, fl):
                    for i in range(1, 9):
                        live = {right: [templates[other_r, i]], left: [templates[other_l, i]]}
                        tally("impostor fused", chip, live, VerifyOptions(max_attempts=1))
                        either = VerifyOptions("either", max_attempts=1)
                        tally("impostor either", chip, live, either)
        client.link.close()  # type: ignore[attr-defined]
    return {k: (v[0], v[1]) for k, v in counts.items()}


def main(argv: list[str] | None = None) -> int:
    """Run the demonstration; exit status 1 when a verification was not "berhasil"."""
    p = argparse.ArgumentParser(prog="python -m reader.demo", description=__doc__)
    p.add_argument("folder", type=Path, help="an FVC set (101_1.tif ...)")
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--trace", action="store_true")
    p.add_argument("--acceptance", action="store_true", help="run the acceptance protocol")
    args = p.parse_args(argv)
    if args.acceptance:
        for name, (ok, total) in acceptance(args.folder).items():
            print(f"{name:16} berhasil {ok} / {total}")
        return 0
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
