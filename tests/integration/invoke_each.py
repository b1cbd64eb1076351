"""`make invoke` on several files of events/ in one interpreter, for tests/integration/test_invoke.py:
each file on a fresh local stack and portal emulator through ``local.invoke.main``, exactly as
`python -m local.invoke FUNCTION FILE` runs it, with the environment and moto's backends reset in between. Prints one
JSON object: file -> [exit code, what it printed on stdout]. Twenty-one interpreters (their imports,
about 2 s each) become one."""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys

from local import invoke
from local.event_files import FUNCTION_OF


def main(files: list[str]) -> int:
    from moto.moto_api._internal.models import moto_api_backend

    results: dict[str, list[object]] = {}
    for name in files:
        moto_api_backend.reset()  # moto keeps its backends per process: each run starts with none
        saved = dict(os.environ)
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                code = invoke.main([FUNCTION_OF[name], f"events/{name}"])
        finally:
            os.environ.clear()
            os.environ.update(saved)
        results[name] = [code, printed.getvalue()]
    print(json.dumps(results), file=sys.__stdout__)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
