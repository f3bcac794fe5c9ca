"""``python -m wardle``: the sample-apiserver stand-in (see the package docstring)."""

import sys

from .server import main

sys.exit(main())
