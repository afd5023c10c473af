"""Seeded mutation fuzzer for the interchange decoders.

Each registered decoder takes ``bytes``. A run mutates seed inputs (bit flips, byte
overwrites with boundary values, truncations, extensions, splices, and rewriting 1-, 2- and
4-byte big- and little-endian integers, which is where length fields live) and calls the
decoder on each. An input *fails* when the decoder raises anything other than
:class:`afis.errors.AfisError` (or returns normally but too slowly): that is a crash in the
sense of the project's rules. A clean exception is the expected answer to garbage.

Run by hand, for example::

    python -m afis._fuzz iso19794_2_2005 --count 100000 --seed 1

Tests call :func:`fuzz` with a small count so that CI runs a bounded fuzz on every change.
"""

from __future__ import annotations

import argparse
import importlib
import math
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from afis.errors import AfisError

__all__ = ["DECODERS", "FuzzReport", "fuzz", "mutate"]

DECODERS: dict[str, str] = {
    # finger minutiae records and card formats (afis.interchange)
    "iso19794_2_2005": "afis.interchange.iso19794_2_2005:decode",
    "iso19794_2_2011": "afis.interchange.iso19794_2_2011:decode",
    "ansi378_2004": "afis.interchange.ansi378_2004:decode",
    "ansi378_2009": "afis.interchange.ansi378_2009:decode",
    "minutiae_record": "afis.interchange.convert:read_record",
    "iso19794_2_card_compact": "afis.interchange.iso19794_2_card:decode_compact",
    "iso19794_2_card_normal": "afis.interchange.iso19794_2_card:decode_normal",
    "iso7816_11_bit": "afis.interchange.iso19794_2_card:decode_bit",
    "iso7816_11_bit_group": "afis.interchange.iso19794_2_card:decode_bit_group",
    # saved candidate index header (afis.index; the data files are checked by length and
    # SHA-256 before faiss reads them)
    "candidate_index_header": "afis.index._file:decode_header",
    # finger image records and transactions (containers only: image data stays encoded)
    "ansi_nist_itl": "afis.interchange.ansi_nist_itl:decode",
    "iso19794_4": "afis.interchange.iso19794_4:decode",
    "iso19794_4_2005": "afis.interchange.iso19794_4_2005:decode",
    "iso19794_4_2011": "afis.interchange.iso19794_4_2011:decode",
    # image decoders (WSQ in its worker process, Pillow for the rest) and records with images
    "image": "afis.image:load_image",
    "iso19794_4_images": "afis.interchange.iso19794_4:load_finger_images",
    "ansi_nist_itl_validate": "afis.interchange.ansi_nist_itl:validate",
}
"""Decoder name -> ``"module:function"`` taking bytes; codec modules add their entries here."""

_BOUNDARY = (0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF)
_INT_VALUES = (0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF)


def mutate(data: bytes, rng: random.Random, pool: Sequence[bytes] = ()) -> bytes:
    """Return a mutated copy of ``data`` (one to four stacked mutations)."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(8)
        n = len(buf)
        if op == 0 and n:  # bit flip
            i = rng.randrange(n)
            buf[i] ^= 1 << rng.randrange(8)
        elif op == 1 and n:  # boundary byte
            buf[rng.randrange(n)] = rng.choice(_BOUNDARY)
        elif op == 2 and n:  # truncate
            del buf[rng.randrange(n) :]
        elif op == 3:  # extend with junk
            buf += bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
        elif op == 4 and n >= 4:  # integer field rewrite
            width = rng.choice((1, 2, 4))
            if n >= width:
                i = rng.randrange(n - width + 1)
                v = rng.choice(_INT_VALUES) & ((1 << (8 * width)) - 1)
                buf[i : i + width] = v.to_bytes(width, rng.choice(("big", "little")))
        elif op == 5 and n >= 2:  # delete a run
            i = rng.randrange(n)
            del buf[i : i + rng.randint(1, 16)]
        elif op == 6 and n >= 2:  # duplicate a run
            i = rng.randrange(n)
            buf[i:i] = buf[i : i + rng.randint(1, 32)]
        elif op == 7 and pool:  # splice with another seed
            other = rng.choice(pool)
            if other:
                i = rng.randrange(len(buf) + 1)
                j = rng.randrange(len(other))
                buf = buf[:i] + bytearray(other[j:])
    return bytes(buf)


@dataclass
class FuzzReport:
    """Outcome of a fuzz run."""

    decoder: str
    count: int = 0
    accepted: int = 0
    rejected: int = 0
    slowest_ms: float = 0.0
    failures: list[tuple[bytes, str]] = field(default_factory=list)
    slow: list[tuple[bytes, float]] = field(default_factory=list)

    def ok(self) -> bool:
        """True when no input crashed the decoder or exceeded the time limit."""
        return not self.failures and not self.slow

    def summary(self) -> str:
        return (
            f"{self.decoder}: {self.count} inputs, {self.accepted} accepted, "
            f"{self.rejected} rejected cleanly, {len(self.failures)} failures, "
            f"{len(self.slow)} slow, slowest {self.slowest_ms:.2f} ms"
        )


def _resolve(decoder: str | Callable[[bytes], object]) -> tuple[str, Callable[[bytes], object]]:
    if callable(decoder):
        return getattr(decoder, "__qualname__", repr(decoder)), decoder
    target = DECODERS.get(decoder, decoder)
    module, _, name = target.partition(":")
    if not name:
        raise KeyError(f"unknown decoder {decoder!r}; known: {sorted(DECODERS)}")
    return decoder, getattr(importlib.import_module(module), name)


def fuzz(
    decoder: str | Callable[[bytes], object],
    seeds: Sequence[bytes],
    count: int,
    *,
    seed: int = 0,
    slow_ms: float = 100.0,
    progress: bool = False,
) -> FuzzReport:
    """Feed ``count`` mutations of ``seeds`` to ``decoder`` and report failures.

    Parameters
    ----------
    decoder : str or callable
        A name in :data:`DECODERS`, a ``"module:function"`` path, or the function itself.
    seeds : sequence of bytes
        Valid (or interesting) inputs to mutate; at least one.
    count : int
        Number of mutated inputs.
    seed : int
        Seed of the random generator; the same seed gives the same inputs.
    slow_ms : float
        An input taking longer than this is reported as slow. Each seed is decoded once,
        untimed, before the mutations, so one-off start-up costs are not counted.
    progress : bool
        Print a line every 10,000 inputs.

    Examples
    --------
    >>> from afis.errors import TemplateError
    >>> def decode(b):
    ...     if b[:2] != b"OK":
    ...         raise TemplateError("bad magic")
    >>> fuzz(decode, [b"OK1234"], 200, seed=3).ok()
    True
    """
    if not seeds:
        raise ValueError("fuzz needs at least one seed input")
    name, fn = _resolve(decoder)
    rng = random.Random(seed)
    report = FuzzReport(name)
    pool = [bytes(s) for s in seeds]
    for data in pool:  # warm up, untimed: lazy imports, a codec worker process starting
        try:
            fn(data)
        except Exception:  # seeds may be invalid on purpose
            pass
    for i in range(count):
        data = mutate(rng.choice(pool), rng, pool)
        t0 = time.perf_counter()
        try:
            fn(data)
        except AfisError:
            report.rejected += 1
        except Exception as exc:  # anything else is a decoder bug
            report.failures.append((data, f"{type(exc).__name__}: {exc}"))
        else:
            report.accepted += 1
        ms = (time.perf_counter() - t0) * 1000.0
        report.slowest_ms = max(report.slowest_ms, ms)
        if ms > slow_ms:
            report.slow.append((data, ms))
        report.count += 1
        if progress and (i + 1) % 10000 == 0:
            print(f"  {i + 1}/{count}: {report.summary()}", file=sys.stderr, flush=True)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m afis._fuzz DECODER SEED_FILE... --count N``."""
    p = argparse.ArgumentParser(prog="python -m afis._fuzz", description=__doc__)
    p.add_argument("decoder", help="registered name or module:function")
    p.add_argument("seed_files", nargs="+", type=Path)
    p.add_argument("--count", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--slow-ms", type=float, default=100.0)
    p.add_argument(
        "--retime",
        type=int,
        default=0,
        metavar="R",
        help="time each slow input again R times at the end; only those still slow fail",
    )
    args = p.parse_args(argv)
    if args.retime < 0:
        p.error(f"--retime must be 0 or more, got {args.retime}")
    seeds = [f.read_bytes() for f in args.seed_files]
    t0 = time.perf_counter()
    report = fuzz(
        args.decoder, seeds, args.count, seed=args.seed, slow_ms=args.slow_ms, progress=True
    )
    print(report.summary(), f"in {time.perf_counter() - t0:.1f} s")
    for data, why in report.failures[:10]:
        print("FAIL", why, data[:64].hex())
    for data, ms in report.slow[:10]:
        print(f"SLOW {ms:.1f} ms", data[:64].hex())
    if report.slow and args.retime:
        # On a shared machine a decode can be slow because the process waited for a core:
        # time each slow input again, alone, and say which stay slow.
        _, fn = _resolve(args.decoder)
        again = [_best_ms(fn, data, args.retime) for data, _ in report.slow]
        still = sum(ms > args.slow_ms for ms in again)
        print(
            f"re-timed {len(again)} slow inputs (best of {args.retime}): {still} still over "
            f"{args.slow_ms:g} ms, slowest {max(again):.2f} ms"
        )
        return 0 if not report.failures and not still else 1
    return 0 if report.ok() else 1


def _best_ms(fn: Callable[[bytes], object], data: bytes, repeat: int) -> float:
    """Shortest of ``repeat`` timings of ``fn(data)``, in milliseconds."""
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        try:
            fn(data)
        except Exception:  # the verdict was taken in the run; only the time counts here
            pass
        best = min(best, (time.perf_counter() - t0) * 1000.0)
    return best


if __name__ == "__main__":
    raise SystemExit(main())
