from __future__ import annotations

import sys

sys.stdout.write("Script with shebang omitted")
