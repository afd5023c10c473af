"""``python -m afis`` runs the command line."""

import sys

from afis.cli import main

sys.exit(main())
