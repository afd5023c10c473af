"""``afis-reader`` (also ``python -m reader``): read, verify, export and personalise e-KTP
cards on PC/SC readers.

The SAM's PIN is read from the environment variable named by ``--pin-env`` (default
``AFIS_SAM_PIN``) or asked for on the terminal; it is never an argument, so it stays out of
shell histories and process lists. Every read, verification or error adds a row to the log
worksheet (``--log``, default ``reads.xlsx`` in the output folder).

=========================================  =================================================
``afis-reader readers``                    list PC/SC readers
``afis-reader read --out DIR``             read and check the card, export its data
``afis-reader verify --right IMG.. --left  read, capture from files, match: berhasil/gagal
IMG.. [--policy fused|both|either]         (fused: one decision from both fingers at a
[--card-far F] [--fmr F]``                 false acceptance rate per card, the default)
``afis-reader personalise --biodata JSON   write a blank card (issuance office)
--photo JPG --signature IMG --finger
POS=IMG.. --issuer-key PEM --issuer-cert
PEM``
=========================================  =================================================

Exit status: 0 success or "berhasil", 1 "gagal", 2 an error (card removed, SAM locked ...).
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import json
import logging
import os
import sys
from pathlib import Path

from afis.errors import AfisError
from afis.template import FingerPosition
from reader import constants as c
from reader import profile
from reader.errors import ReaderError
from reader.export import append_log, export_card, log_row
from reader.sam import SamClient
from reader.session import CardSession
from reader.transport import CardLink, TraceEntry, list_readers

__all__ = ["main"]

log = logging.getLogger("reader.cli")


def _pin(env: str) -> str:
    value = os.environ.get(env)
    if value:
        return value
    if not sys.stdin.isatty():
        raise ReaderError(f"no SAM PIN: set {env} or run on a terminal")
    return getpass.getpass("SAM PIN: ")


def _links(args: argparse.Namespace) -> tuple[CardLink, SamClient]:
    trace: bool | list[TraceEntry] = [] if args.trace else False
    sam_link = CardLink(args.sam, "sam", trace=trace).connect(args.timeout)
    sam = SamClient(sam_link)
    sam.unlock(_pin(args.pin_env))
    card = CardLink(args.card, "card", trace=trace).connect(args.timeout)
    return card, sam


def _print_trace(card: CardLink, sam: SamClient) -> None:
    for entry in card.trace:  # shared with the SAM's link: both in order
        print(entry.line())


def _positions(spec: list[str]) -> dict[FingerPosition, list[str]]:
    out: dict[FingerPosition, list[str]] = {}
    for item in spec:
        name, sep, path = item.partition("=")
        if not sep:
            raise ValueError(f"--finger wants POSITION=IMAGE, got {item!r}")
        try:
            position = FingerPosition[name.upper()]
        except KeyError:
            raise ValueError(f"unknown finger position {name!r}") from None
        out.setdefault(position, []).append(path)
    return out


def _cmd_readers(args: argparse.Namespace) -> int:
    for name in list_readers():
        print(name)
    return 0


def _cmd_read(args: argparse.Namespace) -> int:
    from reader.session import read_card

    card, sam = _links(args)
    data = read_card(card, sam)
    paths = export_card(data, args.out)
    append_log(args.log or Path(args.out) / "reads.xlsx", log_row(card.reader, card=data))
    for kind, path in paths.items():
        print(f"{kind:10} {path}")
    if args.trace:
        _print_trace(card, sam)
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from reader.verify import BERHASIL, ImageFileScanner, VerifyOptions, verify

    options = VerifyOptions(args.policy, args.fmr, args.attempts, args.dpi, args.card_far)
    images = _positions(args.finger)
    card, sam = _links(args)
    # --right / --left follow whichever finger of that hand the chip holds
    session = CardSession(card, None)
    session.select_df()
    control = profile.decode_control(session.read_plain(c.EF_CONTROL))
    right, left = (FingerPosition(p) for p in control.fingers)
    images.setdefault(right, []).extend(args.right)
    images.setdefault(left, []).extend(args.left)
    on_issued = None
    if args.store:
        from enrollment import Store
        from reader.issuance import StoreIssuance

        on_issued = StoreIssuance(Store(args.store), actor=args.actor)
    result = verify(card, sam, ImageFileScanner(images), options, on_issued=on_issued)
    if result.card is not None and args.out:
        export_card(result.card, args.out, result)
    append_log(args.log or Path(args.out or ".") / "reads.xlsx", log_row(card.reader, result))
    print(f"{result.outcome}: {result.message}")
    timing = result.timings
    print(
        f"time {timing.total:.3f} s: transport {timing.transport:.3f}, SAM {timing.sam:.3f}, "
        f"extraction {timing.extract:.3f}, matching {timing.match:.3f}"
    )
    if args.trace:
        _print_trace(card, sam)
    return 0 if result.outcome == BERHASIL else 1


def _cmd_personalise(args: argparse.Namespace) -> int:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    from PIL import Image

    from afis import extract, load_image
    from reader.personalise import CardRecord, personalise
    from reader.profile import Biodata
    from reader.security_object import Issuer
    from reader.sm import AES, TDES

    key = load_pem_private_key(Path(args.issuer_key).read_bytes(), password=None)
    cert = x509.load_pem_x509_certificate(Path(args.issuer_cert).read_bytes())
    issuer = Issuer(key, cert)  # type: ignore[arg-type]
    fingers = {}
    for position, paths in _positions(args.finger).items():
        template = extract(load_image(paths[0], dpi=args.dpi))
        fingers[position] = dataclasses.replace(template, finger_position=position)
    biodata = Biodata(**json.loads(Path(args.biodata).read_text()))
    with Image.open(args.signature) as sig:
        signature = sig.copy()
    record = CardRecord(
        biodata, Path(args.photo).read_bytes(), signature, fingers, args.issue_date, args.regency
    )
    card, sam = _links(args)
    sm_profile = AES.code if args.profile == "aes" else TDES.code
    contents = personalise(card, sam, record, issuer, sm_profile)
    print(f"personalised card {card.reader}: {sum(map(len, contents.values()))} bytes")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="afis-reader", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("readers", help="list PC/SC readers").set_defaults(run=_cmd_readers)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--card", default="Virtual PCD 00 00", help="card reader name pattern")
        p.add_argument("--sam", default="Virtual PCD 00 01", help="SAM reader name pattern")
        p.add_argument("--pin-env", default="AFIS_SAM_PIN", help="variable holding the PIN")
        p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for cards")
        p.add_argument("--log", type=Path, help="log worksheet (.xlsx)")
        p.add_argument("--trace", action="store_true", help="print the APDU exchange")

    p = sub.add_parser("read", help="read, check and export a card")
    common(p)
    p.add_argument("--out", type=Path, required=True, help="export folder")
    p.set_defaults(run=_cmd_read)

    p = sub.add_parser("verify", help="pick-up verification against live images")
    common(p)
    p.add_argument("--right", nargs="*", default=[], help="live images of the chip's right finger")
    p.add_argument("--left", nargs="*", default=[], help="live images of the chip's left finger")
    p.add_argument("--finger", action="append", default=[], help="POSITION=IMAGE (any finger)")
    p.add_argument(
        "--policy",
        choices=c.POLICIES,
        default=c.DEFAULT_POLICY,
        help="fused: one decision from both fingers (default); both / either: per-finger "
        "thresholds",
    )
    p.add_argument(
        "--card-far",
        type=float,
        default=c.DEFAULT_CARD_FAR,
        help="false acceptance rate per card and attempt of the fused policy",
    )
    p.add_argument("--fmr", type=float, default=c.DEFAULT_FMR, help="per-finger FMR (both/either)")
    p.add_argument("--attempts", type=int, default=4)
    p.add_argument("--dpi", type=int, default=500)
    p.add_argument("--out", type=Path, help="export folder")
    p.add_argument(
        "--store",
        help="issuance mode: record store (SQLite file or database URL) whose record under the "
        "card's NIK moves from CARD_SHIPPED to CARD_ISSUED on berhasil",
    )
    p.add_argument("--actor", default="pickup", help="who hands the card over (status history)")
    p.set_defaults(run=_cmd_verify)

    p = sub.add_parser("personalise", help="write a blank card")
    common(p)
    p.add_argument("--biodata", required=True, help="JSON object of the 21 biodata fields")
    p.add_argument("--photo", required=True, help="face photo, JPEG")
    p.add_argument("--signature", required=True, help="signature image")
    p.add_argument("--finger", action="append", required=True, help="POSITION=IMAGE")
    p.add_argument("--issuer-key", required=True, help="issuer's P-256 private key, PEM")
    p.add_argument("--issuer-cert", required=True, help="issuer's certificate, PEM")
    p.add_argument("--profile", choices=("aes", "3des"), default="aes")
    p.add_argument("--issue-date", default="20260101")
    p.add_argument("--regency", default="0000")
    p.add_argument("--dpi", type=int, default=500)
    p.set_defaults(run=_cmd_personalise)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``afis-reader``."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.run(args)
    except (ReaderError, AfisError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        reader = getattr(args, "card", "")
        if args.command in ("read", "verify"):
            try:
                path = args.log or Path(getattr(args, "out", None) or ".") / "reads.xlsx"
                append_log(path, log_row(reader, error=f"{type(exc).__name__}: {exc}"))
            except OSError:
                pass
        return 2
