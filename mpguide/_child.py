"""Entry point of :func:`mpguide.runner.run_fresh`'s child interpreter.

Reads ``{"module", "function", "kwargs"}`` as JSON on stdin, calls the function and writes its
JSON result after a marker line on stdout. Kept tiny: under ``spawn`` every pool worker the
experiment starts re-imports its ``__main__`` (this module, or the generated script that calls
:func:`main`).
"""

import importlib
import json
import sys

from mpguide.runner import _MARKER, end_with_parent


def main() -> None:
    """Serve one request from stdin; end with everything it started if the parent dies."""
    end_with_parent()
    request = json.loads(sys.stdin.read())
    function = getattr(importlib.import_module(request["module"]), request["function"])
    result = function(**request["kwargs"])
    sys.stdout.write(_MARKER + json.dumps(result))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
