"""``python -m dial_visualization``: the same as the ``dial-visualization`` command."""

import sys

from .cli import main

sys.exit(main())
