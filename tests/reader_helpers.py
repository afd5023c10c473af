"""Shared pieces of the reader tests: the PC/SC bench (pcscd + vpcd with the project's card
and SAM emulators), made-up records, and FVC templates extracted once per session."""

from __future__ import annotations

import dataclasses
import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from afis import extract, load_image
from afis.template import FingerPosition, Template
from reader import constants as c
from reader.emulator import EmulatedCard, EmulatedSam, VpcdLink
from reader.personalise import CardRecord, personalise
from reader.profile import Biodata
from reader.sam import SamClient
from reader.security_object import Issuer
from reader.sm import AES, TDES
from reader.transport import CardLink, TraceEntry, card_present, pcsc_available, wait_for_removal

CARD_READER = "Virtual PCD 00 00"
SAM_READER = "Virtual PCD 00 01"
PIN = "246810"
AES_MASTER = bytes.fromhex("8f1c2a3b4c5d6e7f8091a2b3c4d5e6f7")
TDES_MASTER = bytes.fromhex("0123456789abcdeffedcba98765432100f1e2d3c4b5a6978")


def require_pcsc() -> None:
    """Skip without pcscd + vpcd; under CI (``CI=true``) their absence is a failure."""
    ok = pcsc_available()
    if ok:
        from reader.transport import list_readers

        ok = CARD_READER in list_readers() and SAM_READER in list_readers()
    if not ok:
        message = "pcscd with the vpcd driver is not running (bash tools/install-pcsc.sh)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI: {message}")
        pytest.skip(message)


def photo_jpeg(seed: int) -> bytes:
    """A made-up face photo (JPEG, 120 x 150), seeded."""
    rng = np.random.default_rng(seed)
    colour = tuple(int(v) for v in rng.integers(90, 200, 3))
    im = Image.new("RGB", (120, 150), (200, 210, 230))
    d = ImageDraw.Draw(im)
    d.ellipse((30, 20, 90, 100), fill=colour)
    d.rectangle((15, 100, 105, 150), fill=(40, 40, 90))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=80)
    return buf.getvalue()


def signature(seed: int) -> np.ndarray:
    """A made-up signature stroke (44 x 168 booleans), seeded."""
    rng = np.random.default_rng(seed)
    ink = np.zeros((c.SIGNATURE_HEIGHT, c.SIGNATURE_WIDTH), bool)
    y = 22.0
    for x in range(8, 160):
        y = float(np.clip(y + rng.normal(0, 1.5), 4, 40))
        ink[int(y) - 1 : int(y) + 1, x] = True
    return ink


def record(right: Template, left: Template, seed: int = 0, nik: str = "") -> CardRecord:
    """A record with the given right and left index templates."""
    nik = nik or f"3171234501{900000 + seed:06d}"
    return CardRecord(
        biodata=Biodata.example(nik=nik, name=f"RESIDENT {seed}"),
        photo=photo_jpeg(seed),
        signature=signature(seed),
        fingers={
            FingerPosition.RIGHT_INDEX: dataclasses.replace(
                right, finger_position=FingerPosition.RIGHT_INDEX
            ),
            FingerPosition.LEFT_INDEX: dataclasses.replace(
                left, finger_position=FingerPosition.LEFT_INDEX
            ),
        },
        issue_date="20261123",
        regency="3171",
    )


class Bench:
    """The SAM in slot 1 (inserted once) and cards in slot 0, through pcscd.

    ``trace`` collects the exchanges of the SAM's and the card's links while
    :meth:`recording` is on.
    """

    def __init__(self) -> None:
        self.issuer = Issuer.from_seed(11)
        self.sam = EmulatedSam(
            {AES.code: AES_MASTER, TDES.code: TDES_MASTER}, PIN, [self.issuer.certificate]
        )
        self.trace: list[TraceEntry] = []
        self._sam_vpcd = VpcdLink(self.sam, c.VPCD_PORT_SAM).start()
        self.sam_link = CardLink(SAM_READER, "sam", trace=self.trace)
        self.sam_link.recording = False
        self.sam_link.connect(5.0)
        self.client = SamClient(self.sam_link)

    def sam_client(self, pin: str | None = PIN) -> SamClient:
        """The SAM, reset (locked, three tries) and unlocked with ``pin`` unless None."""
        self.sam.tries_left = c.PIN_TRIES
        self.sam.power_on()
        if pin is not None:
            self.client.unlock(pin)
        return self.client

    @contextmanager
    def recording(self) -> Iterator[list[TraceEntry]]:
        """Record the SAM's exchanges (and those of cards inserted with ``trace=True``)."""
        self.trace.clear()
        self.sam_link.recording = True
        try:
            yield self.trace
        finally:
            self.sam_link.recording = False

    @contextmanager
    def inserted(
        self, card: EmulatedCard, trace: bool = False, remove_after: int | None = None
    ) -> Iterator[CardLink]:
        """Put ``card`` on the reader; yields the connected link, takes the card away."""
        link = VpcdLink(card, c.VPCD_PORT_CARD, remove_after=remove_after).start()
        connection = CardLink(CARD_READER, "card", trace=self.trace if trace else False)
        try:
            connection.connect(5.0)
            yield connection
        finally:
            connection.close()
            link.stop()
            wait_for_removal(CARD_READER)

    def close(self) -> None:
        self.sam_link.close()
        self._sam_vpcd.stop()
        if card_present(SAM_READER):
            wait_for_removal(SAM_READER)

    def blank_card(self, uid: bytes, profile=AES) -> EmulatedCard:
        master = AES_MASTER if profile is AES else TDES_MASTER
        return EmulatedCard.manufacture(uid, master, profile)

    def make_card(self, rec: CardRecord, uid: bytes, profile=AES) -> EmulatedCard:
        """A card personalised with ``rec`` through the stack."""
        card = self.blank_card(uid, profile)
        with self.inserted(card) as link:
            personalise(link, self.sam_client(), rec, self.issuer, profile.code)
        return card


_FVC_CACHE: dict[Path, dict[tuple[int, int], Template]] = {}


def fvc_templates(folder: Path) -> dict[tuple[int, int], Template]:
    """(finger, impression) -> template of every image of an FVC set, extracted once."""
    if folder not in _FVC_CACHE:
        files = sorted(folder.glob("*.tif"))
        if not files:
            pytest.skip(f"{folder} holds no FVC images")
        out = {}
        for f in files:
            finger, impression = (int(v) for v in f.stem.split("_"))
            out[finger, impression] = extract(load_image(f, dpi=500))
        _FVC_CACHE[folder] = out
    return _FVC_CACHE[folder]
