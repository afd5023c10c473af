"""Fuzz targets of the reader layer, for :func:`afis._fuzz.fuzz`.

Each target takes bytes and either returns or raises an :class:`afis.errors.AfisError`;
anything else is a crash. ``python -m reader._fuzz [--count N] [--seed S] [NAME...]`` runs
them all (or the named ones) and prints one summary line each.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable

from afis._fuzz import fuzz
from reader import constants as c
from reader import profile, security_object
from reader.apdu import Command, Response, parse_command, parse_response
from reader.emulator import EmulatedCard, EmulatedSam
from reader.sm import AES, TDES, SecureChannel, session_keys

__all__ = ["TARGETS", "main", "seeds"]

_KEYS = session_keys(AES, bytes(range(16)), bytes(16), bytes(8), bytes(range(8)))
_TKEYS = session_keys(TDES, bytes(range(16)), bytes(16), bytes(8), bytes(range(8)))


def _channel(profile_: object = AES) -> SecureChannel:
    keys = _KEYS if profile_ is AES else _TKEYS
    return SecureChannel(profile_, *keys)  # type: ignore[arg-type]


def unwrap_response(data: bytes) -> object:
    """The SAM's unwrap of a protected response (fresh channel each time)."""
    return _channel().unwrap_response(data)


def unwrap_response_3des(data: bytes) -> object:
    """The same with the 3DES profile."""
    return _channel(TDES).unwrap_response(data)


def unwrap_command(data: bytes) -> object:
    """The card's unwrap of a protected command."""
    return _channel().unwrap_command(parse_command(data))


def decode_finger(data: bytes) -> object:
    """EF 6FF4."""
    return profile.decode_finger(data, c.EF_FINGER_1)


_CARD = EmulatedCard.manufacture(bytes(7), bytes(16))
_ISSUER = security_object.Issuer.from_seed(3)
_SAM = EmulatedSam({AES.code: bytes(16)}, "1234", [_ISSUER.certificate])


def card_command(data: bytes) -> object:
    """The emulated card answers any bytes with a status word, never an exception."""
    _CARD.power_on()
    return _CARD.process(data)


def sam_command(data: bytes) -> object:
    """The emulated SAM, unlocked, answers any bytes with a status word."""
    _SAM.tries_left = c.PIN_TRIES
    _SAM.power_on()
    _SAM.unlocked = True
    logging.disable(logging.WARNING)  # wrong-PIN warnings by the thousand
    try:
        return _SAM.process(data)
    finally:
        logging.disable(logging.NOTSET)


TARGETS: dict[str, Callable[[bytes], object]] = {
    "command_apdu": parse_command,
    "response_apdu": parse_response,
    "sm_unwrap_response": unwrap_response,
    "sm_unwrap_response_3des": unwrap_response_3des,
    "sm_unwrap_command": unwrap_command,
    "biodata": profile.decode_biodata,
    "card_control": profile.decode_control,
    "signature": profile.decode_signature,
    "photo": profile.decode_photo,
    "finger": decode_finger,
    "security_object": security_object.decode,
    "card_command": card_command,
    "sam_command": sam_command,
}
"""Name -> function taking bytes."""


def seeds(name: str) -> list[bytes]:
    """Valid inputs of target ``name`` to mutate.

    Examples
    --------
    >>> len(seeds("sm_unwrap_response")) > 0
    True
    """
    import io

    import numpy as np
    from PIL import Image

    from afis.template import FingerPosition, Template

    if name in ("sm_unwrap_response", "sm_unwrap_response_3des"):
        prof = AES if name == "sm_unwrap_response" else TDES
        return [
            _channel(prof).wrap_response(Response(b"hello world" * 5, 0x9000)),
            _channel(prof).wrap_response(Response(b"", 0x6A82)),
        ]
    if name == "sm_unwrap_command":
        out = []
        for cmd in (Command(0, 0xB0, 0, 0x10, le=0xD0), Command(0, 0xD6, 0, 0, b"x" * 40)):
            out.append(_channel().wrap_command(cmd).to_bytes())
        return out
    if name in ("command_apdu", "card_command", "sam_command"):
        so = security_object.sign({0x6FF1: b"a"}, _ISSUER)
        return [
            Command(0x80, 0xA8, 0, 0, so).to_bytes(),
            Command(0x90, 0xA8, 0, 0, so[:100]).to_bytes(),
            bytes.fromhex("00a4010c027f0a"),
            bytes.fromhex("00b00000d0"),
            bytes.fromhex("0084000008"),
            bytes.fromhex("0082000028") + bytes(40) + b"\x28",
            bytes.fromhex("80a0010000000f") + bytes(15) + b"\x00\x28",
            bytes.fromhex("80a6000005") + b"\x99\x02\x90\x00\x00",
            bytes.fromhex("0020008104") + b"1234",
            bytes.fromhex("00b0000000ffff"),
        ]
    if name == "response_apdu":
        return [b"\x90\x00", b"abc\x90\x00", b"\x6a\x82"]
    if name == "biodata":
        return [profile.Biodata.example().to_bytes()]
    if name == "card_control":
        return [profile.CardControl().to_bytes()]
    if name == "signature":
        return [profile.encode_signature(np.eye(44, 168, dtype=bool))]
    if name == "photo":
        buf = io.BytesIO()
        Image.new("RGB", (24, 32), (120, 80, 60)).save(buf, "JPEG")
        return [buf.getvalue()]
    if name == "finger":
        t = Template(
            width=300,
            height=300,
            resolution=500.0,
            source_resolution=500.0,
            x=[10, 100, 150],
            y=[20, 120, 200],
            direction=[0.0, 1.0, 2.0],
            type=[1, 2, 1],
            quality=[60, 70, 80],
            image_quality=70,
            finger_position=FingerPosition.LEFT_INDEX,
        )
        return [profile.encode_finger(t)]
    if name == "security_object":
        return [security_object.sign({0x6FF1: b"a", 0x6FF2: b"b"}, _ISSUER)]
    raise KeyError(f"unknown fuzz target {name!r}; known: {sorted(TARGETS)}")


def main(argv: list[str] | None = None) -> int:
    """Run the targets; exit status 1 when any input crashed one or was slow."""
    p = argparse.ArgumentParser(prog="python -m reader._fuzz", description=__doc__)
    p.add_argument("names", nargs="*", help=f"targets (default all): {', '.join(TARGETS)}")
    p.add_argument("--count", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    bad = 0
    for name in args.names or list(TARGETS):
        t0 = time.perf_counter()
        report = fuzz(TARGETS[name], seeds(name), args.count, seed=args.seed)
        print(f"{report.summary()}, {time.perf_counter() - t0:.1f} s", flush=True)
        for data, error in report.failures[:3]:
            print(f"  {data.hex()}: {error}")
        bad += not report.ok()
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
