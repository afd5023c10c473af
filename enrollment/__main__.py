"""``python -m enrollment`` runs the enrolment layer's command line."""

import sys

from enrollment.cli import main

sys.exit(main())
