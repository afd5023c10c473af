"""Tuned constants of the capture session at the service point (one place; the options
objects of :mod:`enrollment.capture` default to them).

The quality figures are the engine's image quality (``afis.Template.image_quality``, 0-100,
computed by :func:`afis.extract`). On the FVC 2000/2002 'B' sets a tenth of the impressions
score below 62-82 and the worst at 33-68, so a floor of 40 refuses smudges, lifted fingers
and blanks while it lets nearly every genuine capture through on the first try; MOSIP's
registration client uses 40 for its slaps too.

Examples
--------
>>> FINGER_ORDER[0].name, FINGER_ORDER[-1].name
('RIGHT_THUMB', 'LEFT_LITTLE')
>>> [p.name for p in SLAP_POSITIONS["right_slap"]]
['RIGHT_INDEX', 'RIGHT_MIDDLE', 'RIGHT_RING', 'RIGHT_LITTLE']
"""

from __future__ import annotations

from types import MappingProxyType

from afis.template import FingerPosition as F

__all__ = [
    "ADULT_AGE",
    "CHIP_FINGER_PREFERENCE",
    "DEFAULT_CAPTURE_TIMEOUT",
    "DEVICE_PORTS",
    "DUPLICATE_FINGER_FMR",
    "FINGER_ORDER",
    "FLAT_SLAP_FMR",
    "MAX_DEVICE_RESPONSE",
    "MIN_FREE_BYTES",
    "QUALITY_FLOOR",
    "RETRIES",
    "SESSION_FILE_LIMIT",
    "SLAP_MIN_FINGER_AREA",
    "SLAP_POSITIONS",
    "SLAP_SMOOTHING",
    "VERIFY_FMR",
]

#: The seeds' capture order: right thumb .. little, then left thumb .. little (ISO codes 1-10).
FINGER_ORDER = tuple(F(code) for code in range(1, 11))

#: The three slaps of a 4-4-2 capture and the fingers each holds, left to right in the image
#: (as an ink impression shows them: the right hand's index at the left, the left hand's
#: little finger at the left, the left thumb left of the right thumb).
SLAP_POSITIONS = MappingProxyType(
    {
        "left_slap": (F.LEFT_LITTLE, F.LEFT_RING, F.LEFT_MIDDLE, F.LEFT_INDEX),
        "right_slap": (F.RIGHT_INDEX, F.RIGHT_MIDDLE, F.RIGHT_RING, F.RIGHT_LITTLE),
        "two_thumbs": (F.LEFT_THUMB, F.RIGHT_THUMB),
    }
)

#: Chip fingers per hand, in order of preference (DOMAIN.md: index, then middle, ring, thumb).
CHIP_FINGER_PREFERENCE = MappingProxyType(
    {
        "right": (F.RIGHT_INDEX, F.RIGHT_MIDDLE, F.RIGHT_RING, F.RIGHT_THUMB),
        "left": (F.LEFT_INDEX, F.LEFT_MIDDLE, F.LEFT_RING, F.LEFT_THUMB),
    }
)

#: Image quality (0-100, the engine's) a finger must reach to be accepted without force.
QUALITY_FLOOR = 40
#: Free disk a station needs before it starts capturing a resident. A session's images and
#: its sealed packet take a few MB; a home-visit station that cannot deliver for weeks keeps
#: every packet, so below this it refuses the next resident (deliver the outbox or free
#: space) instead of running out of disk in the middle of one.
MIN_FREE_BYTES = 512 * 2**20
#: Captures of a finger below the floor before the best of them is kept, flagged forced
#: (MOSIP's registration client: three).
RETRIES = 3

#: Two fingers of one record that match at this false match rate are the same finger
#: captured twice (:func:`afis.threshold_for_fmr`).
DUPLICATE_FINGER_FMR = 1e-4
#: A flat capture must match its slap finger at this false match rate.
FLAT_SLAP_FMR = 1e-3
#: Re-verification and operator / supervisor finger sign-off match at this false match rate.
VERIFY_FMR = 1e-3

#: Age (years) from which a resident must hold an e-KTP (younger: only if ever married).
ADULT_AGE = 17

#: Ports a device service may listen on at 127.0.0.1 (MOSIP's device specification).
DEVICE_PORTS = range(4501, 4601)
#: Seconds a capture waits for a finger by default.
DEFAULT_CAPTURE_TIMEOUT = 10.0
#: Largest response body read from a device service (bytes): a slap PNG is well below.
MAX_DEVICE_RESPONSE = 32 * 1024 * 1024

#: Gaussian smoothing (pixels at 500 ppi) of the ridge-texture map before a slap is
#: thresholded into fingers: wider than a ridge period, narrower than the gap between fingers.
SLAP_SMOOTHING = 6.0
#: Smallest finger blob in a slap, as a share of the largest (smaller blobs are dirt or
#: a finger's second joint).
SLAP_MIN_FINGER_AREA = 0.25

#: Largest session state file read back (bytes).
SESSION_FILE_LIMIT = 16 * 1024 * 1024
