"""Entry point of :func:`mpguide.runner.run_fresh`'s child interpreter.

Reads ``{"module", "function", "kwargs"}`` as JSON on stdin, calls the function and writes its
JSON result after a marker line on stdout. Kept tiny: under ``spawn`` every pool worker the
experiment starts re-imports this module as its ``__main__``.
"""

import importlib
import json
import sys

from mpguide.runner import _MARKER

if __name__ == "__main__":
    request = json.loads(sys.stdin.read())
    function = getattr(importlib.import_module(request["module"]), request["function"])
    result = function(**request["kwargs"])
    sys.stdout.write(_MARKER + json.dumps(result))
    sys.stdout.flush()
