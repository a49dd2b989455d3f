"""``python -m mpguide``: the command line of :mod:`mpguide.cli`."""

from __future__ import annotations

import sys

from mpguide.cli import main

if __name__ == "__main__":
    sys.exit(main())
