"""``python -m ha_toolkit.cli``."""

import sys

from ha_toolkit.cli import main

sys.exit(main())
