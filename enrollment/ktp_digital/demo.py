"""``afis-enrollment ktp-digital demo``: synthetic residents through KTP Digital end to end.

Records of synthetic people (:func:`enrollment.demo.synthetic_records`) are walked to
``CARD_ISSUED`` in a fresh SQLite store; each gets a credential with a synthetic face
thumbnail, drawn as a QR PNG, read back from the image with zxing-cpp and verified offline
against the trust list and the signed status list. The report gives how many verified, the
largest QR version (error correction M), payload sizes and the time to decode and verify one
image on one core.

Examples
--------
>>> face = synthetic_face(7)
>>> face.size
(240, 300)
"""

from __future__ import annotations

import dataclasses
import io
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from enrollment.ktp_digital.keys import IssuerKey, TrustList
from enrollment.ktp_digital.qr import make_qr, png_bytes
from enrollment.ktp_digital.verifier import check_image

__all__ = ["KtpDemoReport", "run_ktp_demo", "synthetic_face"]

#: Statuses a received record passes through to the hand-over of its card.
PATH_TO_CARD = (
    "SENT_FOR_DEDUP",
    "PRINT_READY_RECORD",
    "SENT_FOR_CARD_PRINTING",
    "CARD_PRINTED",
    "CARD_SHIPPED",
    "CARD_ISSUED",
)


def synthetic_face(seed: int, size: tuple[int, int] = (240, 300)) -> Image.Image:
    """A made-up passport-style face photo (seeded): skin tone, hair, eyes, brows, nose and
    mouth varied per person, with sensor noise. Not a real face: for demos and tests."""
    rng = np.random.default_rng(seed)
    width, height = size
    background = tuple(int(v) for v in rng.integers(150, 230, 3))
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    skin = tuple(int(v) for v in np.array([205, 160, 125]) * rng.uniform(0.55, 1.1))
    hair = tuple(int(v) for v in rng.integers(10, 70, 3))
    cx = width / 2 + rng.normal(0, 4)
    face_w, face_h = width * rng.uniform(0.52, 0.62), height * rng.uniform(0.56, 0.64)
    top = height * 0.2
    draw.ellipse(
        (cx - face_w / 2 - 8, top - 22, cx + face_w / 2 + 8, top + face_h * 0.6), fill=hair
    )
    draw.rectangle((cx - face_w * 0.7, top + face_h * 0.95, cx + face_w * 0.7, height), fill=hair)
    draw.ellipse((cx - face_w / 2, top, cx + face_w / 2, top + face_h), fill=skin)
    eye_y = top + face_h * rng.uniform(0.4, 0.46)
    gap = face_w * rng.uniform(0.2, 0.26)
    for side in (-1, 1):
        ex = cx + side * gap
        draw.ellipse((ex - 11, eye_y - 6, ex + 11, eye_y + 6), fill=(245, 245, 245))
        draw.ellipse((ex - 5, eye_y - 5, ex + 5, eye_y + 5), fill=hair)
        draw.line((ex - 14, eye_y - 16, ex + 14, eye_y - 18 + side), fill=hair, width=4)
    nose = top + face_h * rng.uniform(0.6, 0.66)
    shade = tuple(int(v * 0.8) for v in skin)
    draw.line((cx, eye_y + 8, cx - 4, nose), fill=shade, width=3)
    draw.line((cx - 8, nose, cx + 6, nose), fill=shade, width=3)
    mouth = top + face_h * rng.uniform(0.76, 0.82)
    half = face_w * rng.uniform(0.14, 0.2)
    draw.arc((cx - half, mouth - 10, cx + half, mouth + 10), 10, 170, fill=(140, 60, 60), width=3)
    pixels = np.asarray(image.filter(ImageFilter.GaussianBlur(1.2)), dtype=np.float32)
    pixels += rng.normal(0, 4, pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


@dataclass(frozen=True)
class KtpDemoReport:
    """What :func:`run_ktp_demo` measured."""

    records: int
    verified: int
    largest_version: int
    median_text: int
    largest_text: int
    median_thumbnail: int
    median_decode_verify_ms: float
    largest_decode_verify_ms: float
    issue_per_s: float

    def lines(self) -> list[str]:
        """The report as text."""
        return [
            f"records {self.records}: issued -> QR PNG -> read from the image -> verified: "
            f"{self.verified} valid",
            f"QR text {self.median_text} characters median, {self.largest_text} largest; "
            f"face thumbnail {self.median_thumbnail} bytes median; largest QR version "
            f"{self.largest_version} at error correction M",
            f"decode + verify one image: {self.median_decode_verify_ms:.1f} ms median, "
            f"{self.largest_decode_verify_ms:.1f} ms largest (one core); issuance "
            f"{self.issue_per_s:.0f} credentials/s",
        ]


def run_ktp_demo(folder: str | Path, records: int = 1000, seed: int = 0) -> KtpDemoReport:
    """Issue, draw, read and verify ``records`` synthetic residents' credentials."""
    from enrollment.demo import DemoOptions, synthetic_records
    from enrollment.ktp_digital.issuance import Issuer
    from enrollment.ktp_digital.revocation import StatusList
    from enrollment.status import Status
    from enrollment.store import Store

    if isinstance(records, bool) or not isinstance(records, int) or records < 1:
        raise ValueError(f"records must be a positive int, got {records!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "ktp.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    store = Store(db)
    made, _ = synthetic_records(
        dataclasses.replace(
            DemoOptions(), people=records, duplicate_share=0.0, mismatches=0, seed=seed
        )
    )
    ids = store.add_records(made, actor="ktp-demo")
    for status in PATH_TO_CARD:
        for record_id in ids:
            store.transition(record_id, Status[status], actor="ktp-demo", reason="demo")
    key = IssuerKey.generate("ktp-demo-1")
    trust = TrustList([key.public()])
    issuer = Issuer(store, key)
    start = time.perf_counter()
    texts, thumbs, issued = [], [], []
    for n, record_id in enumerate(ids):
        credential, text = issuer.issue(
            record_id, actor="ktp-demo", photo=synthetic_face(seed * 100003 + n)
        )
        texts.append(text)
        issued.append(credential)
        thumbs.append(len(credential.photo or b""))
    issue_rate = len(ids) / (time.perf_counter() - start)
    status_list = StatusList.from_bytes(issuer.status_list().sign(key), trust)
    verified, versions, times = 0, [], []
    for text, credential in zip(texts, issued, strict=True):
        code = make_qr(text)
        versions.append(code.version)
        png = png_bytes(code)
        begin = time.perf_counter()
        result = check_image(Image.open(io.BytesIO(png)), trust, status_list=status_list)
        times.append(1000 * (time.perf_counter() - begin))
        # valid, and carrying exactly what was issued (read back from the image)
        verified += int(result.valid and result.credential == credential)
    lengths = [len(t) for t in texts]
    store.close()
    return KtpDemoReport(
        records=len(ids),
        verified=verified,
        largest_version=max(versions),
        median_text=int(statistics.median(lengths)),
        largest_text=max(lengths),
        median_thumbnail=int(statistics.median(thumbs)),
        median_decode_verify_ms=float(statistics.median(times)),
        largest_decode_verify_ms=float(max(times)),
        issue_per_s=issue_rate,
    )
