"""The offline verifier: a QR code from a camera image (or its decoded text) checked against
the trusted issuer keys, the validity period and the revocation status list, and exported
as a card reader's user gets a read: demographics as ``.txt`` and ``.csv``, the photo, and a
``.jpg`` preview with the outcome.

Examples
--------
>>> from enrollment.ktp_digital import Credential, IssuerKey, TrustList, encode
>>> from enrollment.ktp_digital.qr import make_qr, png_bytes
>>> key = IssuerKey.generate("ktp-test")
>>> cred = Credential.example()
>>> png = png_bytes(make_qr(encode(cred, key)))
>>> check_image(png, TrustList([key.public()]), now=cred.issued_at).status
'valid'
>>> check_image(b"not an image", TrustList([key.public()])).status
'malformed'
"""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from afis.atomic import atomic_write
from enrollment.ktp_digital.credential import Verification, verify
from enrollment.ktp_digital.errors import CredentialError
from enrollment.ktp_digital.keys import TrustList
from enrollment.ktp_digital.qr import read_qr
from enrollment.ktp_digital.revocation import StatusList

__all__ = ["check_image", "check_text", "export"]


def check_text(
    text: str | bytes,
    trust: TrustList,
    *,
    status_list: StatusList | None = None,
    now: float | None = None,
) -> Verification:
    """Verify decoded QR text (see :func:`enrollment.ktp_digital.credential.verify`)."""
    return verify(text, trust, now=now, status_list=status_list)


def check_image(
    image: str | Path | bytes | Image.Image | np.ndarray,
    trust: TrustList,
    *,
    status_list: StatusList | None = None,
    now: float | None = None,
) -> Verification:
    """Read the QR code in a camera image and verify it; an unreadable image or code is a
    ``malformed`` outcome with the reason, never an exception."""
    try:
        text = read_qr(image)
    except CredentialError as exc:
        return Verification("malformed", str(exc))
    return verify(text, trust, now=now, status_list=status_list)


def _preview(result: Verification) -> Image.Image:
    width, height = 720, 420
    canvas = Image.new("RGB", (width, height), (235, 242, 250))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    draw.rectangle((0, 0, width, 28), fill=(20, 60, 120))
    draw.text((10, 8), "KTP DIGITAL (verified offline from its QR code)", (255, 255, 255), font)
    credential = result.credential
    if credential is not None:
        y = 40
        for key, value in credential.biodata.items():
            draw.text((12, y), key.replace("_", " ").upper(), (70, 70, 90), font)
            draw.text((140, y), value, (0, 0, 0), font)
            y += 15
        if credential.photo:
            try:
                photo = Image.open(io.BytesIO(credential.photo)).convert("RGB")
                canvas.paste(photo.resize((150, 188)), (width - 190, 45))
            except OSError:
                draw.text((width - 190, 45), "(photo unreadable)", (120, 0, 0), font)
    ok = result.valid
    draw.rectangle((0, height - 40, width, height), fill=(20, 130, 40) if ok else (170, 20, 20))
    draw.text(
        (10, height - 28), f"{result.status.upper()}: {result.message}"[:110], (255, 255, 255), font
    )
    return canvas


def export(result: Verification, folder: str | Path, stem: str = "") -> dict[str, Path]:
    """Write what was verified into ``folder``: ``<stem>.txt``, ``<stem>.csv``,
    ``<stem>_photo.bmp`` (when the credential carries one) and ``<stem>_preview.jpg``.

    The stem defaults to the NIK of a verified credential, else ``refused-<time>``; the
    biodata of a credential whose signature did not verify are never written (the preview
    then says why it was refused). Returns kind -> path.
    """
    if not isinstance(result, Verification):
        raise TypeError(f"result must be a Verification, got {type(result).__name__}")
    folder = Path(folder)
    credential = result.credential
    stem = stem or (credential.nik if credential else f"refused-{int(time.time())}")
    header = ["status", "message", "key_id"]
    row: list[Any] = [result.status, result.message, result.kid or ""]
    lines = [f"{'STATUS':16}: {result.status}", f"{'MESSAGE':16}: {result.message}"]
    if credential is not None:
        header += ["credential_id", "issuer", "issued_at", "expires", *credential.biodata]
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(credential.issued_at))
        until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(credential.expires))
        row += [credential.credential_id, credential.issuer, stamp, until]
        row += list(credential.biodata.values())
        lines += [f"{k.replace('_', ' ').upper():16}: {v}" for k, v in credential.biodata.items()]
        lines += [f"{'CREDENTIAL':16}: {credential.credential_id} ({credential.issuer})"]
    lines += [f"{'WARNING':16}: {w}" for w in result.warnings]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerow(row)
    paths = {
        "txt": atomic_write(folder / f"{stem}.txt", ("\n".join(lines) + "\n").encode()),
        "csv": atomic_write(folder / f"{stem}.csv", out.getvalue().encode()),
    }
    if credential is not None and credential.photo:
        try:
            photo = Image.open(io.BytesIO(credential.photo)).convert("RGB")
            buffer = io.BytesIO()
            photo.save(buffer, "BMP")
            paths["photo"] = atomic_write(folder / f"{stem}_photo.bmp", buffer.getvalue())
        except OSError:
            pass  # a signed but undecodable thumbnail: the preview says so
    buffer = io.BytesIO()
    _preview(result).save(buffer, "JPEG", quality=90)
    paths["preview"] = atomic_write(folder / f"{stem}_preview.jpg", buffer.getvalue())
    return paths
