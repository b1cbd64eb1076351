"""The shared layer holds what the functions need and nothing the Lambda runtime already has: boto3 and
its dependencies stay out (aws-xray-sdk's botocore alone made 30 of the layer's 44 MB). The recipe is
layers/common/Makefile, which installs layers/common/requirements.txt without dependencies, so that
list must be closed: every dependency of a listed package is listed, or comes with the runtime."""

from __future__ import annotations

import re
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LAYER_SRC = ROOT / "layers" / "common"
REQUIREMENTS = LAYER_SRC / "requirements.txt"
RECIPE = LAYER_SRC / "Makefile"

# What the python3.13 runtime ships next to awslambdaric: the SDK and its dependencies (distribution
# name: top-level module names).
RUNTIME = {
    "boto3": ("boto3",),
    "botocore": ("botocore",),
    "s3transfer": ("s3transfer",),
    "jmespath": ("jmespath",),
    "python-dateutil": ("dateutil",),
    "six": ("six.py",),
    "urllib3": ("urllib3",),
}
LIMIT_BYTES = 15 * 1024 * 1024  # issue #18: at most 15 MB unpacked (the files' bytes, as Lambda counts)
# On Lambda: Python 3.13 on Linux, whatever interpreter runs the tests.
TARGET = {"python_version": "3.13", "python_full_version": "3.13.0", "sys_platform": "linux", "extra": ""}


def pins() -> dict[str, str]:
    found: dict[str, str] = {}
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"{line}: the layer's requirements are pinned (==)"
            found[canonicalize_name(name)] = version.strip()
    return found


def test_the_layer_lists_nothing_the_runtime_has():
    assert set(pins()) & set(RUNTIME) == set()


def test_every_dependency_of_the_layer_is_in_the_layer_or_the_runtime():
    listed = pins()
    missing = []
    for name, version in listed.items():
        installed = metadata.version(name)
        assert installed == version, f"{name}: .venv has {installed}, requirements.txt pins {version}"
        for text in metadata.requires(name) or []:
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate(TARGET):
                continue
            dep = canonicalize_name(req.name)
            if dep not in listed and dep not in RUNTIME:
                missing.append(f"{name} needs {req}")
    assert missing == []


def test_the_template_builds_the_layer_with_the_recipe():
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=Loader)  # noqa: S506 - SafeLoader
    layer = template["Resources"]["CommonLayer"]
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    assert layer["Properties"]["ContentUri"] == "layers/common/"


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_the_recipe_installs_the_list_for_both_architectures_and_compiles_it():
    dry = subprocess.run(
        ["make", "-n", "-f", str(RECIPE), "build-CommonLayer", "ARTIFACTS_DIR=/artifacts"],  # noqa: S607
        cwd=LAYER_SRC,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    installs = [line for line in dry.splitlines() if " -m pip install " in line]
    assert len(installs) == 2, dry
    for line in installs:
        assert "--no-deps" in line.split() and "--requirement requirements.txt" in line, line
        assert "--python-version 3.13" in line and "--only-binary=:all:" in line.split(), line
    platforms = {re.search(r"--platform (\S+)", line).group(1) for line in installs}  # type: ignore[union-attr]
    assert platforms == {"manylinux2014_aarch64", "manylinux2014_x86_64"}
    assert 'cp -R b24sms "/artifacts/python/"' in dry
    # Lambda cannot write __pycache__ under /opt: without .pyc files every cold start compiles.
    compiles = [line for line in dry.splitlines() if " -m compileall " in line]
    assert len(compiles) == 1 and "--invalidation-mode checked-hash" in compiles[0], dry
    assert compiles[0].startswith("python3.13 ") and compiles[0].endswith('"/artifacts/python"'), compiles


def built_layers() -> list[Path]:
    return sorted((ROOT / ".aws-sam").glob("*/CommonLayer/python"))


@pytest.mark.parametrize("python", built_layers() or [None], ids=lambda p: p.parent.parent.name if p else "none")
def test_the_built_layer_is_lean(python: Path | None):
    if python is None:
        pytest.skip("no layer built (make build)")
    newest_source = max(p.stat().st_mtime for p in (REQUIREMENTS, RECIPE))
    if python.stat().st_mtime < newest_source:
        pytest.skip(f"{python} is older than its recipe: make build")
    top = {p.name for p in python.iterdir()}
    assert top & {module for modules in RUNTIME.values() for module in modules} == set()
    for name, version in pins().items():
        assert any(canonicalize_name(p.name.split("-")[0]) == name for p in python.glob(f"*-{version}.dist-info")), name
    assert (python / "b24sms" / "__init__.py").exists()
    assert (python / "b24sms" / "__pycache__" / "api.cpython-313.pyc").exists()
    size = sum(p.stat().st_size for p in python.rglob("*") if p.is_file())
    assert size <= LIMIT_BYTES, f"{size / 2**20:.1f} MB"
