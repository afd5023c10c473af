"""``python -m reader``: the ``afis-reader`` command."""

import sys

from reader.cli import main

sys.exit(main())
