"""Wire format between :mod:`afis.image` and its WSQ worker process (:mod:`afis._wsq_worker`).

Both sides import these; the protocol itself is described in :mod:`afis._wsq_worker`. They
live in a module of their own so that the image module does not import the worker (which
imports the image module's decoders).
"""

from __future__ import annotations

import struct

REQUEST = struct.Struct("<cQ")
OK = struct.Struct("<IId")
ERROR = struct.Struct("<I")
ENCODED = struct.Struct("<I")
ENCODE_HEADER = struct.Struct("<IIdd")

DECODE = b"D"
ENCODE = b"E"
QUIT = b"Q"
