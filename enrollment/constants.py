"""Tuned constants of the data centre (one place; options objects default to them).

The de-duplication thresholds follow from the impostor distribution of the fused person
score (the sum over the ten finger positions of :func:`afis.compare`), measured on synthetic
people (:class:`afis.synth.Population`) by :func:`enrollment.dedup.calibrate`; the numbers
below are its output for ``calibrate(pairs=4000, seed=2026)`` (earlier fits:
``benchmarks/SYNTH.md``). Above ``FUSED_TAIL_START`` (exceeded by
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
    "DEMO_STATIONS",
    "FLOOR_FMR_ADJUDICATE",
    "FLOOR_FMR_DUPLICATE",
    "FPIR_ADJUDICATE",
    "FPIR_DUPLICATE",
    "FUSED_TAIL_SCALE",
    "FUSED_TAIL_SHARE",
    "FUSED_TAIL_START",
    "GALLERY_SHARDS",
    "KTP_BIODATA_FIELDS",
    "KTP_CLAIM",
    "KTP_MAX_BIODATA_FIELD",
    "KTP_MAX_INFLATED",
    "KTP_MAX_TEXT",
    "KTP_PIN_ATTEMPTS",
    "KTP_PREFIX",
    "KTP_QR_MAX_VERSION",
    "KTP_STATUS_CLAIM",
    "KTP_THUMBNAIL_BYTES",
    "KTP_VALIDITY_DAYS",
    "KTP_WALLET_SCRYPT",
    "MAX_CANDIDATES",
    "MIN_USABLE_FINGERS",
    "MIN_USABLE_MINUTIAE",
    "OUTBOX_BASE_DELAY",
    "OUTBOX_JITTER",
    "OUTBOX_MAX_DELAY",
    "OUTBOX_TIMEOUT",
    "PROVINCE_CODES",
    "QUALITY_FLOOR",
    "RECEIVER_INGEST_INTERVAL",
    "SYNTHETIC_PACKET_TIME",
    "SYNTHETIC_STATION",
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

#: Most candidate people re-ranked with all ten fingers per record, per gallery searched (the
#: best of the shortlisted on the thumbs and index fingers; the shortlist's depth is the engine's
#: rule, :func:`afis.people.shortlist_depth`).
MAX_CANDIDATES = 8
#: Shards of a new persistent gallery (by a hash of the record id; ``afis.people_shards``).
GALLERY_SHARDS = 2
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


# -- KTP Digital (enrollment.ktp_digital) ------------------------------------------------------

#: The 21 biodata fields of the card (DOMAIN.md; the chip's EF 6FF1), in card order.
KTP_BIODATA_FIELDS = (
    "nik",
    "address",
    "rt",
    "rw",
    "place_of_birth",
    "district",
    "village",
    "regency",
    "sex",
    "blood_type",
    "religion",
    "marital_status",
    "occupation",
    "name",
    "date_of_birth",
    "province",
    "valid_until",
    "issue_regency",
    "issue_date",
    "family_card",
    "citizenship",
)
#: Most characters of one biodata field (as on the chip).
KTP_MAX_BIODATA_FIELD = 128
#: What a KTP Digital QR text starts with (the version of the encoding: CWT in COSE_Sign1,
#: zlib, Base45, as MOSIP's Claim 169 and the EU Digital COVID Certificate do).
KTP_PREFIX = "KTP1:"
#: CWT private claim (below -65536, private use) holding the card's data.
KTP_CLAIM = -70001
#: CWT private claim of a signed revocation status list.
KTP_STATUS_CLAIM = -70002
#: Longest QR text accepted (a version-40 QR at error correction L holds 4,296 alphanumeric
#: characters): longer input is refused before any decoding.
KTP_MAX_TEXT = 4296
#: Most bytes a credential may inflate to (zlib): a decompression bomb stops here.
KTP_MAX_INFLATED = 16384
#: Bytes of the face thumbnail at most (WebP, greyscale), so the QR stays scannable.
KTP_THUMBNAIL_BYTES = 500
#: Largest QR version a credential with its face thumbnail must fit at error correction M.
KTP_QR_MAX_VERSION = 25
#: Validity of a credential from its issue (five years, the card's renewal cycle for
#: foreign residents; a citizen's card says SEUMUR HIDUP but its digital credential rotates).
KTP_VALIDITY_DAYS = 5 * 365
#: Wrong PINs in a row after which a wallet locks (it must be activated again).
KTP_PIN_ATTEMPTS = 5
#: scrypt cost of the wallet's PIN-derived key (memory-hard: 2^15 x 8 x 128 B = 32 MiB).
KTP_WALLET_SCRYPT = {"n": 1 << 15, "r": 8, "p": 1}

# -- packet delivery (enrollment.outbox, enrollment.receiver) ----------------------------------
#: Seconds before a failed delivery is tried again the first time; each failure doubles it.
OUTBOX_BASE_DELAY = 5.0
#: Longest wait between two tries (seconds): a centre down all day is tried every 15 minutes.
OUTBOX_MAX_DELAY = 900.0
#: Share of a wait added at random (per packet and try) so that stations do not all retry
#: at once when the centre comes back.
OUTBOX_JITTER = 0.25
#: Seconds a delivery waits for the centre's answer.
OUTBOX_TIMEOUT = 60.0
#: Seconds between the receiving endpoint's passes over pending receipts.
RECEIVER_INGEST_INTERVAL = 1.0

# -- synthetic stations (enrollment.synthetic_packets: the demo and the packet benchmark) --------
#: Station id of the synthetic stations' packets.
SYNTHETIC_STATION = "ST-01"
#: Fixed time of the synthetic stations' captures and packets (deterministic content; the
#: n-th packet's registration id is stamped this many seconds later).
SYNTHETIC_PACKET_TIME = "2026-03-02T17:00:00+00:00"
#: Station processes that build and deliver the demo's packets (the machine's two cores).
DEMO_STATIONS = 2
