"""A function of template.yaml as a Python callable: its module imported from functions/<name>/,
with the layer on the path, as Lambda's runtime imports it."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from typing import Any

from local.template import ROOT, FunctionSpec

LAYER_DIR = ROOT / "layers" / "common"


def reset_powertools_clients() -> None:
    """Powertools' parameters keep one provider (and its boto3 client) per process: drop them, so the
    next ones are created with the endpoint and the IAM hook of this stack."""
    from aws_lambda_powertools.utilities.parameters import base

    providers: dict[str, Any] = base.DEFAULT_PROVIDERS  # type: ignore[attr-defined]
    providers.clear()


def load_handler(spec: FunctionSpec, instance: str = "") -> Callable[[dict[str, Any], Any], Any]:
    """The function's handler; ``instance`` names a separate import of its module (an execution
    environment of its own, with its own module globals)."""
    path = spec.code_dir / f"{spec.module}.py"
    module_name = f"b24fn_{spec.logical_id}" + (f"__{instance}" if instance else "")
    if module_name in sys.modules:
        module = sys.modules[module_name]
    else:
        loader_spec = importlib.util.spec_from_file_location(module_name, path)
        assert loader_spec and loader_spec.loader
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[module_name] = module
        loader_spec.loader.exec_module(module)
    handler: Callable[[dict[str, Any], Any], Any] = getattr(module, spec.handler)
    return handler
