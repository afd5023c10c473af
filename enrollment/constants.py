"""Tuned constants of the data centre (one place; options objects default to them).

The de-duplication thresholds follow from the impostor distribution of the fused person
score (the sum over the ten finger positions of :func:`afis.compare`), measured on synthetic
people (:class:`afis.synth.Population`) by :func:`enrollment.dedup.calibrate`; the numbers
below are its output for ``calibrate(pairs=4000, seed=2026)`` with the second synthetic
model of 2026-11-24 (the largest of the 4,000 impostor fused scores was 0.270; with the first
model, whose impostor tail was about ten times too light, 0.213, start 0.19042, scale
0.004938). Above ``FUSED_TAIL_START`` (exceeded by
``FUSED_TAIL_SHARE`` of impostor pairs) the tail is modelled as exponential with
scale ``FUSED_TAIL_SCALE``, so the fused score that an impostor person pair exceeds with
probability ``f`` is ``FUSED_TAIL_START + FUSED_TAIL_SCALE * ln(FUSED_TAIL_SHARE / f)``.

Examples
--------
>>> 0 < FUSED_TAIL_START < 1 and FUSED_TAIL_SCALE > 0
True
"""

from __future__ import annotations

__all__ = [
    "CHUNK_SIZE",
    "FLOOR_FMR_ADJUDICATE",
    "FLOOR_FMR_DUPLICATE",
    "FPIR_ADJUDICATE",
    "FPIR_DUPLICATE",
    "FUSED_TAIL_SCALE",
    "FUSED_TAIL_SHARE",
    "FUSED_TAIL_START",
    "INDEX_NEIGHBOURS",
    "INDEX_NLIST",
    "INDEX_NPROBE",
    "MAX_CANDIDATES",
    "MIN_USABLE_FINGERS",
    "MIN_USABLE_MINUTIAE",
    "PROVINCE_CODES",
    "QUALITY_FLOOR",
    "SHORTLIST_FINGERS",
    "SHORTLIST_K",
]

#: Share of impostor person pairs above :data:`FUSED_TAIL_START` (the tail fit's base).
FUSED_TAIL_SHARE = 0.05
#: Fused impostor score exceeded by :data:`FUSED_TAIL_SHARE` of impostor person pairs.
FUSED_TAIL_START = 0.23437
#: Scale of the exponential tail of fused impostor scores above the start.
FUSED_TAIL_SCALE = 0.008074

#: Synthetic fingers are independent, so the synthetic tail is thinner than real data may be:
#: no threshold goes below ten fingers each at the FVC-calibrated per-finger threshold
#: (:func:`afis.threshold_for_fmr`) of this false match rate (duplicate, adjudicate).
FLOOR_FMR_DUPLICATE = 1e-3
FLOOR_FMR_ADJUDICATE = 1e-2

#: Target false positive identification rate of a DUPLICATE_RECORD decision (per search).
FPIR_DUPLICATE = 1e-5
#: Target false positive identification rate of a search sent to a human (grey zone and up).
FPIR_ADJUDICATE = 1e-4

#: Finger positions (ISO codes) searched in the candidate index: both thumbs and index fingers.
SHORTLIST_FINGERS = (1, 2, 6, 7)
#: Candidates shortlisted per searched finger. 12 was enough with the index's former 72-bit
#: codes and 16 with the 64-bit folded codes on the first synthetic model. On the second
#: (2026-11-24, a realistic impostor tail) 16 with 64 neighbours left 6 of 500 planted
#: duplicates unlisted (10,000 people, 5 % enrolled twice; their fingers score 0.04-0.18 with
#: their mates, impostors about 0.03), 32 / 64 left 4, 64 / 128 left 1, 128 / 256 none
#: (with :data:`INDEX_NEIGHBOURS`). `afis demo --people 10000`: 98, 99 and 100 of its 100
#: planted duplicates at 16, 64 and 128; 101.6, 81.7 and 68.4 records/s.
SHORTLIST_K = 128
#: Most candidate people re-ranked with all ten fingers per record (the best of the
#: shortlisted on the shortlist fingers).
MAX_CANDIDATES = 8
#: Records per checkpointed chunk of the de-duplication job.
CHUNK_SIZE = 128

#: Fewest usable fingers (captured, quality at or above the floor) a record needs unless exempt.
MIN_USABLE_FINGERS = 6
#: Image quality (0-100) below which a finger does not count as usable.
QUALITY_FLOOR = 20
#: Fewest minutiae of a usable finger.
MIN_USABLE_MINUTIAE = 12

#: Two-digit province codes (BPS / Kemendagri) a NIK and a registration region may start with.
PROVINCE_CODES = frozenset(
    {
        *range(11, 20),
        21,
        *range(31, 37),
        *range(51, 54),
        *range(61, 66),
        *range(71, 77),
        81,
        82,
        *range(91, 97),
    }
)

#: Inverted lists of the shortlist index (fewer for small searches: at most one per 8 fingers).
INDEX_NLIST = 256
#: Inverted lists visited per probe code. 8 was 1.5 times faster but missed one of the 50
#: planted duplicates of the default demo (its four searched fingers scored 0.02-0.08 with
#: their mates; the ten together 0.82): at 16 the mate is listed.
INDEX_NPROBE = 16
#: Nearest gallery codes per probe code in the shortlist index. With the 64-bit folded codes
#: 32 left 1 of 500 planted duplicates unlisted (10,000 synthetic people, 5 % enrolled
#: twice, first synthetic model); 64 listed all 500, as 32 did with the 72-bit codes. See
#: :data:`SHORTLIST_K` for the second model. 256 left 6 of 500 planted duplicates unlisted in
#: `afis demo --people 50000` (2026-11-24; their ten fingers fuse to 0.94-1.58, far above
#: the duplicate threshold, but no searched finger of the mate reached the 129 best): the
#: deeper retrieval the index made cheap (``benchmarks/INDEX.md``, eighth round) lists 4 of
#: the 6 with 2,000 (3 on one finger only with 1,000). Re-run with 2,000: 497 of 500 found, 0
#: of 49,495 unique people flagged, but 39.6 records/s instead of 61.6 (votes: 2,000 a probe
#: code). Visiting fewer lists at this depth may win the speed back; not yet measured.
INDEX_NEIGHBOURS = 2000
