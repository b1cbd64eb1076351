"""Every function in its own Lambda container (the SAM CLI and Docker), calling moto's DynamoDB/SQS/SSM
and the portal emulator on 127.0.0.1: whether it can run here, `sam build`, the containers'
configuration, `sam local invoke`, and ``StartLambda``, through which the local stack hands every
function call to ``sam local start-lambda`` with ``LAMBDA_MODE=sam`` (``make run LAMBDA_MODE=sam``,
``make demo LAMBDA_MODE=sam``); routes and queue pollers stay the same. The command line is local/sam.py.

The containers get the configuration the local stack runs with, as ``--env-vars``: the template's
variables with the stack's values (table names, queue URLs, the portal emulator's OAuth URL), the
secrets put in moto's SSM under the names the ``*_PARAM`` variables give (the code path AWS takes), and
``AWS_ENDPOINT_URL`` (the ``LocalAwsEndpoint`` parameter) pointing at moto's server. SAM passes only
variables the template declares, so settings the local stack adds beyond the template (e.g.
``DISPATCH_BACKOFF_BASE``) keep the template's defaults in containers. Containers run on the host
network (local/samcli.py), so nothing leaves loopback.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from local.template import REGION, ROOT

if TYPE_CHECKING:
    from local.template import Template


class LocalStack(Protocol):
    """What the containers need of a running local stack (local/stack.py), which imports this module
    for ``LAMBDA_MODE=sam``: its moto endpoint, its resolved template and its environment."""

    aws_endpoint: str
    template: Template
    environment: dict[str, str]


SAM_PY = ROOT / ".venv-sam" / "bin" / "python"
ARCHITECTURE = "x86_64"  # the local base image's; deploys keep the template's default, arm64
IMAGE = f"public.ecr.aws/lambda/python:3.13-{ARCHITECTURE}"
BUILD_DIR = ROOT / ".aws-sam" / f"local-{ARCHITECTURE}"
WORK_DIR = ROOT / ".sam-local"
SETUP = "make sam-local-setup"


class SamUnavailable(SystemExit):
    """sam local cannot run here: `make run`/`make demo` in sam mode end with this one line, not a
    stack trace (a SystemExit, so no handler on the way turns it into one)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"sam local: {reason}")


def _docker(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    docker = shutil.which("docker") or "docker"
    return subprocess.run([docker, *args], capture_output=True, text=True, timeout=timeout, check=False)  # noqa: S603


def python313_env() -> dict[str, str] | None:
    """The environment `sam build` finds python3.13 (the Lambda runtime) in; None when there is none."""
    env = dict(os.environ, SAM_CLI_TELEMETRY="0")
    pyenv = shutil.which("pyenv")
    if pyenv:
        versions = subprocess.run([pyenv, "versions", "--bare"], capture_output=True, text=True, check=False).stdout.split()  # noqa: S603
        found = sorted(v for v in versions if v.startswith("3.13"))
        current = subprocess.run([pyenv, "version-name"], capture_output=True, text=True, check=False).stdout.strip()  # noqa: S603
        if found:
            env["PYENV_VERSION"] = f"{current}:{found[-1]}" if current else found[-1]
            return env
    return env if shutil.which("python3.13") else None


def problem() -> str:
    """'' when sam local can run here, else one line saying what is missing and how to get it."""
    if not SAM_PY.exists():
        return f"no SAM CLI virtualenv (.venv-sam): run {SETUP}"
    if not shutil.which("docker"):
        return f"Docker is not installed: run {SETUP} (as root) or install docker.io"
    try:
        info = _docker("info", "--format", "{{.ServerVersion}}", timeout=20)
    except subprocess.TimeoutExpired:
        return "the Docker daemon does not answer (docker info timed out)"
    if info.returncode != 0:
        return f"the Docker daemon is not running: run {SETUP} (as root), or start dockerd"
    if _docker("image", "inspect", IMAGE).returncode != 0:
        return f"no Lambda base image {IMAGE}: run {SETUP}"
    try:
        trial = _docker("run", "--rm", "--network", "host", "--entrypoint", "/bin/true", IMAGE, timeout=60)
    except subprocess.TimeoutExpired:
        return "Docker did not run a container within 60 s"
    if trial.returncode != 0:
        first = (trial.stderr.strip().splitlines() or ["?"])[-1][:200]
        return f"Docker cannot run a container on the host network here: {first}"
    if python313_env() is None:
        return "no python3.13 (the Lambda runtime) for sam build: install it (e.g. pyenv install 3.13)"
    return ""


def require() -> None:
    reason = problem()
    if reason:
        raise SamUnavailable(reason)


def sam(*args: str) -> list[str]:
    """A SAM CLI command line, with `--docker-network host` honoured (local/samcli.py)."""
    return [str(SAM_PY), "-m", "local.samcli", *args]


def build(quiet: bool = True) -> None:
    """`sam build` for the local architecture, into its own directory (make build's stays arm64)."""
    env = python313_env()
    if env is None:
        raise SamUnavailable(problem())
    command = sam(
        "build",
        "--build-dir",
        str(BUILD_DIR),
        "--cache-dir",
        str(ROOT / ".aws-sam" / f"cache-{ARCHITECTURE}"),
        "--cached",
        "--parameter-overrides",
        f"Architecture={ARCHITECTURE}",
    )
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=quiet, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise RuntimeError(f"sam build failed:\n{done.stdout}{done.stderr}")


def container_env(stack: LocalStack) -> dict[str, dict[str, str]]:
    """``--env-vars`` for every function: the stack's configuration, its secrets in moto's SSM."""
    import boto3

    ssm = boto3.client("ssm", endpoint_url=stack.aws_endpoint, region_name=REGION)
    stored: set[str] = set()
    result: dict[str, dict[str, str]] = {}
    for spec in stack.template.functions():
        env: dict[str, str] = {}
        for name, value in spec.environment.items():
            if name == "AWS_ENDPOINT_URL":
                continue
            declared = stack.template.resolve(value)
            declared = declared if isinstance(declared, str) else ""
            base = name.removesuffix("_PARAM")
            if name != base and stack.environment.get(base):
                # As in AWS: the function reads the secret from the SSM parameter the variable names.
                parameter = declared or f"/b24sms/local/{base.lower().replace('_', '-')}"
                if parameter not in stored:
                    ssm.put_parameter(Name=parameter, Value=stack.environment[base], Type="SecureString", Overwrite=True)
                    stored.add(parameter)
                env[name] = parameter
            else:
                env[name] = stack.environment.get(name, declared)
        env["AWS_ENDPOINT_URL"] = stack.aws_endpoint
        result[spec.logical_id] = env
    return result


def write_env_file(stack: LocalStack) -> Path:
    WORK_DIR.mkdir(exist_ok=True)
    handle, name = tempfile.mkstemp(prefix="env-", suffix=".json", dir=WORK_DIR)
    with os.fdopen(handle, "w") as out:
        json.dump(container_env(stack), out, indent=2)
    return Path(name)


def local_args(stack: LocalStack, env_file: Path) -> list[str]:
    """What every `sam local` command here adds to samconfig.toml's settings."""
    return [
        "--config-file",
        str(ROOT / "samconfig.toml"),
        "--template-file",
        str(BUILD_DIR / "template.yaml"),
        "--skip-pull-image",
        "--docker-network",
        "host",
        "--env-vars",
        str(env_file),
        "--parameter-overrides",
        f"Architecture={ARCHITECTURE} LocalAwsEndpoint={stack.aws_endpoint}",
    ]


def sam_env() -> dict[str, str]:
    """The SAM CLI's environment: the stack's credentials and region (placeholders for moto)."""
    return dict(os.environ, SAM_CLI_TELEMETRY="0", AWS_DEFAULT_REGION=REGION, AWS_REGION=REGION)


def invoke(stack: LocalStack, function: str, event: Path, env_file: Path, stderr: IO[str] | int | None = None) -> Any:
    """`sam local invoke FUNCTION -e EVENT`: the function's answer (SAM prints it last on stdout)."""
    done = subprocess.run(  # noqa: S603
        sam("local", "invoke", function, "--event", str(event), *local_args(stack, env_file)),
        cwd=ROOT,
        env=sam_env(),
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        timeout=300,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"sam local invoke {function} exited {done.returncode}: {done.stdout[-2000:]}")
    return json.loads(lines[-1])


class FunctionError(RuntimeError):
    """The function raised: its errorType and errorMessage, as the Lambda Invoke API reports them."""


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class StartLambda:
    """`sam local start-lambda` on a loopback port; calling it invokes a function there (boto3's
    Lambda client), as a stack's ``remote`` invoker."""

    def __init__(self, stack: LocalStack, port: int = 0, log: IO[str] | None = None) -> None:
        self.stack = stack
        self.port = port
        self.log = log
        self.process: subprocess.Popen[str] | None = None
        self.env_file: Path | None = None
        self.client: Any = None
        self.calls = 0  # invocations answered through start-lambda
        self._lock = threading.Lock()

    def start(self, timeout: float = 120) -> StartLambda:
        require()
        build()
        self.env_file = write_env_file(self.stack)
        if not self.port:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                self.port = probe.getsockname()[1]
        command = sam(
            "local",
            "start-lambda",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--warm-containers",
            "LAZY",
            *local_args(self.stack, self.env_file),
        )
        self.process = subprocess.Popen(  # noqa: S603
            # The functions' output (their logs, a traceback) goes to stderr, as the stack's own does.
            command,
            cwd=ROOT,
            env=sam_env(),
            stdout=self.log or sys.stderr,
            stderr=self.log or sys.stderr,
            text=True,
            start_new_session=True,
            # SIGINT stops SAM and its warm containers; a shell's background job has it ignored.
            preexec_fn=_default_sigint,
        )
        atexit.register(self.close)  # its own session: a run that ends without close() must not leave it
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                break
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"sam local start-lambda did not start on 127.0.0.1:{self.port}")
            time.sleep(0.2)
        import boto3
        from botocore.config import Config

        self.client = boto3.client(
            "lambda",
            endpoint_url=f"http://127.0.0.1:{self.port}",
            region_name=REGION,
            config=Config(read_timeout=300, connect_timeout=5, retries={"max_attempts": 0}, max_pool_connections=32),
        )
        return self

    def __call__(self, function: str, event: dict[str, Any]) -> Any:
        answer = self.client.invoke(FunctionName=function, Payload=json.dumps(event).encode())
        raw = answer["Payload"].read()
        payload = json.loads(raw) if raw else None
        with self._lock:
            self.calls += 1
        if answer.get("FunctionError"):
            detail = payload if isinstance(payload, dict) else {}
            raise FunctionError(f"{function}: {detail.get('errorType', 'Error')}: {detail.get('errorMessage', raw[:500])}")
        return payload

    def close(self) -> None:
        atexit.unregister(self.close)
        if self.process and self.process.poll() is None:
            # SIGINT, as Ctrl-C: SAM stops and removes its warm containers.
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        if self.env_file:
            self.env_file.unlink(missing_ok=True)
