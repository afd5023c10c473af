"""Fuzz targets of KTP Digital's offline verifier, for :func:`afis._fuzz.fuzz`.

``qr_text`` mutates whole QR texts (prefix, Base45, zlib, COSE, CBOR all at once);
``signed`` mutates the inflated COSE_Sign1 bytes, which the text's Base45 and zlib layers
would otherwise shield from most mutations; ``status_list`` mutates a signed status list.
The verifier answers every input with an outcome (or a :class:`CredentialError` for a status
list); anything else is a crash. ``python -m enrollment.ktp_digital._fuzz [--count N]
[--seed S]`` runs them all and prints one summary line each.
"""

from __future__ import annotations

import argparse
import sys
import time
import zlib
from collections.abc import Callable, Sequence

import base45

from afis._fuzz import fuzz
from afis.errors import AfisError
from enrollment import constants as C
from enrollment.ktp_digital.credential import Credential, encode, inflate, verify
from enrollment.ktp_digital.keys import IssuerKey, TrustList
from enrollment.ktp_digital.revocation import StatusList

__all__ = ["TARGETS", "main", "seeds"]

_KEY = IssuerKey.generate("fuzz-1")
_ED = IssuerKey.generate("fuzz-2", "EdDSA")
_TRUST = TrustList([_KEY.public(), _ED.public()])
_NOW = Credential.example().issued_at + 1


def qr_text(data: bytes) -> object:
    """The whole QR text, as bytes."""
    return verify(data, _TRUST, now=_NOW)


def signed(data: bytes) -> object:
    """The signed COSE bytes, wrapped in valid zlib and Base45."""
    text = C.KTP_PREFIX + base45.b45encode(zlib.compress(data)).decode("ascii")
    return verify(text, _TRUST, now=_NOW)


def status_list(data: bytes) -> object:
    """A signed revocation status list."""
    return StatusList.from_bytes(data, _TRUST)


TARGETS: dict[str, Callable[[bytes], object]] = {
    "qr_text": qr_text,
    "signed": signed,
    "status_list": status_list,
}
"""Name -> function taking bytes."""


def seeds(name: str) -> list[bytes]:
    """Valid inputs of target ``name`` to mutate.

    Examples
    --------
    >>> all(len(seeds(n)) >= 2 for n in TARGETS)
    True
    """
    from PIL import Image

    from enrollment.ktp_digital.qr import face_thumbnail

    plain = Credential.example()
    photo = face_thumbnail(Image.new("L", (60, 75), 128))
    rich = Credential(
        7,
        "KEMENDAGRI",
        plain.biodata,
        plain.issued_at,
        plain.not_before,
        plain.expires,
        photo=photo,
        fingers={2: b"\x01\x02\x03" * 20, 7: b"\x04\x05\x06" * 20},
    )
    texts = [encode(plain, _KEY), encode(rich, _KEY), encode(rich, _ED)]
    if name == "qr_text":
        return [t.encode("ascii") for t in texts]
    if name == "signed":
        return [inflate(t, C.KTP_PREFIX) for t in texts]
    if name == "status_list":
        lists = [
            StatusList("KEMENDAGRI", 100, [3, 50], issued_at=0, next_update=1),
            StatusList("KEMENDAGRI", 5000, range(0, 5000, 7), issued_at=0, next_update=1),
        ]
        return [lists[0].sign(_KEY), lists[1].sign(_ED)]
    raise KeyError(f"unknown target {name!r}; known: {sorted(TARGETS)}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the targets; exit 1 if any input crashed or was slow."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=sorted(TARGETS))
    parser.add_argument("--count", type=int, default=100_000, help="inputs per target")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--slow-ms", type=float, default=100.0)
    args = parser.parse_args(argv)
    failed = False
    for name in args.names:
        start = time.perf_counter()
        target = TARGETS[name]
        report = fuzz(target, seeds(name), args.count, seed=args.seed, slow_ms=args.slow_ms)
        print(f"{report.summary()} ({time.perf_counter() - start:.1f} s)")
        for data, reason in report.failures[:5]:
            print(f"  failure: {reason} on {data[:60]!r}")
        # on a shared machine an input can be slow because the process waited for a core:
        # each slow one is timed again three times, and only one slow every time counts
        still_slow = []
        for data, ms in report.slow:
            again = []
            for _ in range(3):
                begin = time.perf_counter()
                try:
                    target(data)
                except AfisError:
                    pass  # a clean refusal, as in the run itself
                again.append(1000 * (time.perf_counter() - begin))
            print(f"  slow once: {ms:.1f} ms, again {', '.join(f'{t:.1f}' for t in again)} ms")
            if min(again) > args.slow_ms:
                still_slow.append(data)
        failed |= bool(report.failures) or bool(still_slow)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
