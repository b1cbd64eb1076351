"""`sam local` on this machine's back ends, from the command line (local/lambda_containers.py does it):

python -m local.sam invoke [FUNCTION] EVENT   # make sam-invoke: `make invoke`, through `sam local invoke`
python -m local.sam check                     # one line: ready, or what is missing
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from local import invoke as local_invoke
from local.emulator import PortalEmulator
from local.event_files import FUNCTION_OF
from local.lambda_containers import BUILD_DIR, SAM_PY, StartLambda, build, invoke, problem, write_env_file
from local.stack import LocalStack

# The back end's names, still importable from here (older imports): local/lambda_containers.py.
__all__ = ["BUILD_DIR", "SAM_PY", "StartLambda", "build", "invoke", "main", "problem", "write_env_file"]


def _file_invoker(stack: LocalStack, env_file: Path) -> Callable[[str, dict[str, Any]], Any]:
    """`sam local invoke` on an event given as a dict (written to a file for SAM)."""

    def call(function: str, event: dict[str, Any]) -> Any:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            json.dump(event, handle)
        try:
            return invoke(stack, function, Path(handle.name), env_file)
        finally:
            Path(handle.name).unlink(missing_ok=True)

    return call


def _invoke_main(function_and_event: list[str], rebuild: bool = True) -> int:
    path = Path(function_and_event[-1])
    if not path.is_file():
        print(f"no event file {path}; events/ has: {', '.join(sorted(FUNCTION_OF))}", file=sys.stderr)
        return 2
    function = function_and_event[0] if len(function_and_event) == 2 else FUNCTION_OF.get(path.name, "")
    if not function:
        print(f"no function given for {path}: make sam-invoke FUNCTION=<LogicalId> EVENT={path}", file=sys.stderr)
        return 2
    reason = problem()
    if reason:
        print(f"sam local: {reason}", file=sys.stderr)
        return 2
    try:
        event = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        print(f"cannot read {path} as a JSON event: {exc}", file=sys.stderr)
        return 2
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    emulator = PortalEmulator().start()
    stack = LocalStack(env=local_invoke.local_env(function, emulator, event), start_pollers=False, lambda_mode="")
    env_file: Path | None = None
    try:
        with contextlib.redirect_stdout(sys.stderr):
            if not local_invoke.start_seeded(stack, emulator, function):
                return 2
            if rebuild or not (BUILD_DIR / "template.yaml").exists():
                build()
            env_file = write_env_file(stack)
        # SAM's own output (the container's logs, a traceback, the REPORT line) goes to stderr.
        result = invoke(stack, function, path, env_file)
        if function in local_invoke.DRAINED:  # what it queued, each message in its consumer's container
            queue, consumer = local_invoke.DRAINED[function]
            result = {**result, **local_invoke.drain(stack, queue, consumer, _file_invoker(stack, env_file))}
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return 0
    finally:
        if env_file:
            env_file.unlink(missing_ok=True)
        stack.stop()
        emulator.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("invoke", help="one function on an event file, in its container")
    run.add_argument("function_and_event", nargs="+", metavar="[FUNCTION] EVENT")
    run.add_argument("--no-build", action="store_true", help="use the last build (.aws-sam/local-x86_64)")
    sub.add_parser("check", help="say whether sam local can run here")
    args = parser.parse_args(argv)
    if args.command == "check":
        reason = problem()
        print(f"sam local: {reason or 'ready'}")
        return 1 if reason else 0
    if len(args.function_and_event) > 2:
        parser.error("give at most a function and an event file")
    return _invoke_main(args.function_and_event, rebuild=not args.no_build)


if __name__ == "__main__":
    sys.exit(main())
