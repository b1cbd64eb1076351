"""The whole bundle on one machine, no Docker, no AWS account.

DynamoDB and SQS come from moto's server, started in-process; the tables and queues are those of
template.yaml; every HttpApi route of the template is served on 127.0.0.1; every SQS trigger is fed by
a poller that invokes its function with a real SQS event and honours partial batch failures, as
Lambda's event source mapping does. Functions run in this process, imported from functions/<name>/app.py
with the layer on sys.path, with the environment the template gives them.
"""

from __future__ import annotations

import atexit
import base64
import importlib.util
import json
import logging
import os
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from b24sms.adapters import carriers
from local.httpserver import LoopbackServer
from local.iam import enforce as iam
from local.schedules import LocalScheduler
from local.template import ACCOUNT, REGION, ROOT, FunctionSpec, QueueTrigger, Route, Template

LAYER_DIR = ROOT / "layers" / "common"

# Local defaults for what AWS reads from SSM. Any of them can be overridden by the environment.
LOCAL_DEFAULTS = {
    "BITRIX_CLIENT_ID": "local.app",
    "BITRIX_CLIENT_SECRET": "local-client-secret",
    "SANDBOX_SECRET": "local-sandbox-secret",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "DISPATCH_BACKOFF_BASE": "1",
    "POWERTOOLS_METRICS_DISABLED": "true",  # EMF metrics are for CloudWatch; locally they are noise
    # The application page: its session key, framed by the local emulator, no BX24.js from the internet.
    "APP_SESSION_SECRET": "local-app-session-secret",
    "APP_FRAME_ANCESTORS": "'self' http://127.0.0.1:* http://localhost:*",
    "APP_BX24_JS": "",
}
# Settings a user may set in the environment of `make run`: the deployment's, and every carrier's
# (each carrier module declares its own: b24sms.adapters.carriers).
OVERRIDABLE = (
    "PUBLIC_BASE_URL",
    "BITRIX_CLIENT_ID",
    "BITRIX_CLIENT_SECRET",
    "BITRIX_OAUTH_URL",
    "CARRIER",
    "SENDER_CODE",
    "SENDER_NAME",
    "DISPATCH_MAX_ATTEMPTS",
    "DISPATCH_BACKOFF_BASE",
    "HTTP_TIMEOUT",
    "POWERTOOLS_LOG_LEVEL",
    "PORTAL_RATE",
    "PORTAL_BURST",
    "CARRIER_RATE",
    "FALLBACK_CARRIER",
    "CARRIER_ROUTES",
    "FAILOVER_THROTTLE_WAIT",
    "DISPATCH_LEASE_SECONDS",
    "UNKNOWN_OUTCOME_GRACE",
    "PUSH_RETRY_BASE",
    "SYNC_RETRY_BASE",
    "PUSH_RETRY_CAP",
    "DEFAULT_COUNTRY",
    "MAX_SEGMENTS",
    *carriers.settings(),
    "APP_SESSION_SECRET",
    "APP_FRAME_ANCESTORS",
    "APP_BX24_JS",
)


@dataclass
class LambdaContext:
    function_name: str
    memory_limit_in_mb: int = 256
    timeout_ms: int = 15000

    def __post_init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"
        self.function_version = "$LATEST"
        self._deadline = time.monotonic() + self.timeout_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class LocalStack:
    def __init__(
        self,
        port: int = 0,
        moto_port: int = 0,
        env: dict[str, str] | None = None,
        host: str = "127.0.0.1",
        start_pollers: bool = True,
        visibility_timeout: int | None = None,
        max_batch_window: float | None = None,
        default_concurrency: int = 2,
        moto_process: bool = False,
        lambda_mode: str | None = None,
        iam_mode: str | None = None,
    ) -> None:
        """``visibility_timeout`` overrides the queues' (tests that wait for a redelivery);
        ``max_batch_window`` caps the triggers' MaximumBatchingWindowInSeconds; ``moto_process`` runs
        moto's server in a process of its own (on another core) instead of a thread of this one;
        ``lambda_mode`` "sam" (default: $LAMBDA_MODE) runs every function call through `sam local
        start-lambda`, each function in its Lambda container (local/sam.py), instead of in-process;
        ``iam_mode`` (default: $LOCAL_IAM, else "enforce") "enforce" refuses a function's AWS call that
        its deployed role does not allow (local/iam/), "record" only records it."""
        self.host = host
        self.port = port
        self.moto_port = moto_port
        self.env_overrides = env or {}
        self.start_pollers = start_pollers
        self.visibility_timeout = visibility_timeout
        self.max_batch_window = max_batch_window
        self.default_concurrency = default_concurrency
        self.moto_process = moto_process
        self.lambda_mode = os.environ.get("LAMBDA_MODE", "") if lambda_mode is None else lambda_mode
        self.iam_mode = (os.environ.get("LOCAL_IAM") or "enforce") if iam_mode is None else iam_mode
        if self.iam_mode not in ("enforce", "record"):
            raise ValueError(f"unknown LOCAL_IAM {self.iam_mode!r}: 'enforce' (default) or 'record'")
        self.iam = iam.Enforcer({}, ACCOUNT)  # each function's permissions, once the resources exist
        self.remote: Any = None  # lambda_mode "sam": a local.sam.StartLambda
        self.invocation_seconds: dict[str, float] = {}
        self._count_lock = threading.Lock()
        self.template = Template()
        self.handlers: dict[str, Callable[[dict[str, Any], Any], Any]] = {}
        self.specs: dict[str, FunctionSpec] = {}
        self.routes: list[Route] = []
        self.invocations: dict[str, int] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._moto: Any = None
        self._http: LoopbackServer | None = None
        self.base_url = ""
        self.aws_endpoint = ""

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> LocalStack:
        try:
            return self._start()
        except BaseException:
            self.stop()  # a start that fails half-way leaves nothing running (moto's server above all)
            raise

    def _start(self) -> LocalStack:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        # Metrics are disabled locally, so every flush would warn that there is nothing to publish.
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        if str(LAYER_DIR) not in sys.path:
            sys.path.insert(0, str(LAYER_DIR))
        if self.moto_process:
            self._moto = _MotoProcess(self.moto_port)
        else:
            self._moto = _MotoThread(self.moto_port)
        self.moto_port = self._moto.port
        self.aws_endpoint = f"http://127.0.0.1:{self.moto_port}"
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": self.aws_endpoint,
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
            }
        )
        self._create_resources()
        # Every AWS call a function makes is checked against its deployed role (local/iam/); the hook is
        # on botocore clients created from here on, and _set_environment drops the layer's cached ones.
        self.iam = iam.Enforcer.from_policies(self.template.resolve, ACCOUNT, enforce=self.iam_mode == "enforce")
        iam.install()
        self.schedules = LocalScheduler(self.template, self.iam, self.aws_endpoint)  # moto runs no schedules
        self._http = LoopbackServer(self.handle_http, self.port, self.host)
        self.port = self._http.port
        self.base_url = self._http.base_url
        self._set_environment()
        self._load_functions()
        if self.lambda_mode == "sam":
            from local.sam import StartLambda

            self.remote = StartLambda(self, log=None).start()
        elif self.lambda_mode:
            raise ValueError(f"unknown LAMBDA_MODE {self.lambda_mode!r}: '' (in-process) or 'sam'")
        self._http.start()
        if self.start_pollers:
            for trigger in self.template.queue_triggers():
                for index in range(max(1, trigger.concurrency or self.default_concurrency)):
                    self._spawn(self._poll, trigger, self.poller_handler(trigger.function, index))
            for function, seconds in self.template.schedules():
                self._spawn(self._every, function, seconds)
            self._spawn(self.schedules.run, self._stop)
        return self

    def stop(self) -> None:
        self._stop.set()
        if os.environ.get("LOCAL_IAM_REPORT"):  # every AWS call the functions made, denials first
            Path(os.environ["LOCAL_IAM_REPORT"]).write_text(json.dumps(self.iam.report(), indent=1) + "\n")
        if self._http:
            self._http.stop()
        for thread in self._threads:
            thread.join(timeout=5)
        if self.remote:
            self.remote.close()
        if self._moto:
            self._moto.stop()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, target: Callable[..., Any], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self._threads.append(thread)

    # -- resources ---------------------------------------------------------------------------
    def _create_resources(self) -> None:
        import boto3

        ddb = boto3.client("dynamodb", endpoint_url=self.aws_endpoint, region_name=REGION)
        sqs = boto3.client("sqs", endpoint_url=self.aws_endpoint, region_name=REGION)
        t = self.template
        for logical, res in t.of_type("AWS::DynamoDB::Table").items():
            props = res["Properties"]
            name = f"{logical}-local"
            kwargs: dict[str, Any] = {
                "TableName": name,
                "AttributeDefinitions": props["AttributeDefinitions"],
                "KeySchema": props["KeySchema"],
                "BillingMode": "PAY_PER_REQUEST",
            }
            if props.get("GlobalSecondaryIndexes"):
                kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
            ddb.create_table(**kwargs)
            t.physical[logical] = {"Ref": name, "Arn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"}
        queues = t.of_type("AWS::SQS::Queue")
        # Dead-letter queues first: the others' redrive policies point at them.
        ordered = sorted(queues, key=lambda q: "RedrivePolicy" in queues[q].get("Properties", {}))
        for logical in ordered:
            props = dict(queues[logical].get("Properties", {}))
            name = f"{logical}-local"
            attributes = {k: str(props[k]) for k in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds") if k in props}
            if self.visibility_timeout is not None:
                attributes["VisibilityTimeout"] = str(self.visibility_timeout)
            if "RedrivePolicy" in props:
                attributes["RedrivePolicy"] = json.dumps(t.resolve(props["RedrivePolicy"]))
            url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
            t.physical[logical] = {"Ref": url, "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}", "QueueName": name}

    def publish(self, topic: str, message: dict[str, Any] | str) -> list[Any]:
        """An SNS notification on ``topic`` (a logical id): each subscribed function is invoked with
        the event Lambda gets from SNS. Returns their results."""
        arn = f"arn:aws:sns:{REGION}:{ACCOUNT}:{topic}-local"
        body = message if isinstance(message, str) else json.dumps(message)
        event = {
            "Records": [
                {
                    "EventSource": "aws:sns",
                    "EventVersion": "1.0",
                    "EventSubscriptionArn": f"{arn}:{uuid.uuid4()}",
                    "Sns": {
                        "Type": "Notification",
                        "MessageId": str(uuid.uuid4()),
                        "TopicArn": arn,
                        "Subject": None,
                        "Message": body,
                        "Timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                        "SignatureVersion": "1",
                        "MessageAttributes": {},
                    },
                }
            ]
        }
        return [self.invoke(function, event) for function in self.template.sns_subscriptions().get(topic, [])]

    def queue_url(self, logical_id: str) -> str:
        return self.template.physical[logical_id]["Ref"]

    def table_name(self, logical_id: str) -> str:
        return self.template.physical[logical_id]["Ref"]

    def _set_environment(self) -> None:
        resolved: dict[str, str] = {}
        for spec in self.template.functions():
            for name, value in spec.environment.items():
                if name != "AWS_ENDPOINT_URL":  # the template's is for sam local; here it is moto's, set above
                    resolved[name] = str(self.template.resolve(value))
        settings = dict(LOCAL_DEFAULTS)
        settings["PUBLIC_BASE_URL"] = self.base_url
        for name in OVERRIDABLE:
            if os.environ.get(name) and name not in ("PUBLIC_BASE_URL",):
                settings[name] = os.environ[name]
        if os.environ.get("PUBLIC_BASE_URL"):
            settings["PUBLIC_BASE_URL"] = os.environ["PUBLIC_BASE_URL"]
        settings.update(self.env_overrides)
        resolved.update(settings)
        # Locally the values themselves are in the environment; the SSM parameter names are not used.
        for name in list(resolved):
            if name.endswith("_PARAM") and resolved.get(name[: -len("_PARAM")]):
                del resolved[name]
                os.environ.pop(name, None)
        os.environ.update(resolved)
        self.environment = resolved
        from b24sms.adapters import aws, config, store

        config.reset_settings()
        aws.reset_clients()
        store.reset_client()
        _reset_powertools_clients()

    def _load_functions(self) -> None:
        for spec in self.template.functions():
            self.specs[spec.logical_id] = spec
            self.handlers[spec.logical_id] = load_handler(spec)
        self.routes = self.template.routes()

    def poller_handler(self, function: str, index: int) -> Callable[[dict[str, Any], Any], Any]:
        """The handler of poller ``index`` of ``function``: its own import of the function's module.

        In Lambda each concurrent invocation has an execution environment of its own, so module
        globals are never shared between invocations running at the same time. Here all functions
        share one process, and a module-level object that keeps per-invocation state (the dispatch
        function's Powertools ``BatchProcessor`` keeps the batch's records and failures on itself)
        mixed up two pollers' batches: each got the other's failure list. So each poller is an
        execution environment of its own (a separate module object, one invocation at a time); the
        layer (``b24sms``) stays shared, as it holds no per-invocation state."""
        return load_handler(self.specs[function], instance=f"poller{index}")

    # -- invoking ----------------------------------------------------------------------------
    def invoke(self, function: str, event: dict[str, Any], handler: Callable[[dict[str, Any], Any], Any] | None = None) -> Any:
        started = time.perf_counter()
        try:
            if self.remote:  # LAMBDA_MODE=sam: the function's container answers (its own environment)
                return self.remote(function, event)
            with self.iam.acting_as(function):  # its AWS calls are checked against its role
                return (handler or self.handlers[function])(event, LambdaContext(function))
        finally:
            elapsed = time.perf_counter() - started
            with self._count_lock:
                self.invocations[function] = self.invocations.get(function, 0) + 1
                self.invocation_seconds[function] = self.invocation_seconds.get(function, 0.0) + elapsed

    def handle_http(
        self, method: str, raw: str, headers: dict[str, str], body: bytes, source_ip: str = "127.0.0.1"
    ) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(raw)
        for route in self.routes:
            match = route.pattern.match(parts.path)
            if match and route.method in (method, "ANY"):
                event = http_event(
                    route, method, parts.path, parts.query, headers, body, match.groupdict(), source_ip, self.host, self.port
                )
                try:
                    result = self.invoke(route.function, event)
                except Exception as exc:  # what API Gateway answers when a function crashes
                    sys.stderr.write(f"{route.function} crashed: {exc!r}\n")
                    return 500, {"Content-Type": "application/json"}, b'{"message":"Internal Server Error"}'
                return http_response(result)
        return 404, {"Content-Type": "application/json"}, b'{"message":"Not Found"}'

    def _poll(self, trigger: QueueTrigger, handler: Callable[[dict[str, Any], Any], Any]) -> None:
        import boto3

        sqs = boto3.client("sqs", endpoint_url=self.aws_endpoint, region_name=REGION)
        url = self.queue_url(trigger.queue)
        arn = self.template.physical[trigger.queue]["Arn"]
        window = trigger.window if self.max_batch_window is None else min(trigger.window, self.max_batch_window)
        while not self._stop.is_set():
            try:
                with self.iam.acting_as(trigger.function):  # Lambda's poller uses the function's role
                    messages = self._receive(sqs, url, trigger.batch_size, window)
            except Exception as exc:  # moto shutting down, or a hiccup: try again
                if self._stop.is_set():
                    return
                sys.stderr.write(f"poller {trigger.function}: {exc!r}\n")
                time.sleep(0.5)
                continue
            if not messages:
                continue
            event = sqs_event(messages, arn)
            try:
                result = self.invoke(trigger.function, event, handler)
                failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
            except Exception as exc:  # the whole batch failed: every message comes back later
                sys.stderr.write(f"{trigger.function} crashed: {exc!r}\n")
                failed = {m["MessageId"] for m in messages}
            done = [m for m in messages if m["MessageId"] not in failed]
            for start in range(0, len(done), 10):
                with self.iam.acting_as(trigger.function):
                    sqs.delete_message_batch(
                        QueueUrl=url,
                        Entries=[
                            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done[start : start + 10])
                        ],
                    )

    def _every(self, function: str, seconds: float) -> None:
        """A Schedule event: EventBridge invokes the function every ``seconds``."""
        while not self._stop.wait(seconds):
            try:
                self.invoke(function, {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})
            except Exception as exc:
                sys.stderr.write(f"{function} crashed: {exc!r}\n")

    def _receive(self, sqs: Any, url: str, batch_size: int, window: float) -> list[dict[str, Any]]:
        """Like Lambda's event source mapping: wait for a first message (long poll), then keep
        gathering until the batch is full or the batching window has passed."""
        messages: list[dict[str, Any]] = []
        deadline = 0.0
        while len(messages) < batch_size and not self._stop.is_set():
            got = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(10, batch_size - len(messages)),
                WaitTimeSeconds=0 if messages else 1,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if got and not messages:
                deadline = time.monotonic() + window
            messages.extend(got)
            if not messages or time.monotonic() >= deadline:
                break
            if not got:
                time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        return messages


# -- moto's server ---------------------------------------------------------------------------------
# moto's DynamoDB is not thread-safe: update_item and put_item read the item, check the condition and
# write without a lock, and its server answers each request on a thread of its own. Two conditional
# writes racing on one item could then both succeed (six threads sending the same conditional claim
# got two winners in 28 of 150 rounds), which real DynamoDB never allows: our exactly-once guarantees
# rest on it. So every DynamoDB request goes through one lock: each conditional write is atomic, and
# no read sees half a write. SQS requests are not held up by it (a long poll would block everything).
def serialise_dynamodb(app: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap moto's WSGI app so that DynamoDB requests run one at a time."""
    lock = threading.Lock()

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if not str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith("DynamoDB_"):
            return app(environ, start_response)
        with lock:
            response = app(environ, start_response)
            try:
                return list(response)  # the whole answer is produced under the lock
            finally:
                close = getattr(response, "close", None)
                if close:
                    close()

    return wsgi


def _moto_app() -> Callable[..., Any]:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    from local import moto_speed

    moto_speed.quicken()  # a deep queue (a fleet's campaigns) answers as fast as a shallow one
    return serialise_dynamodb(DomainDispatcherApplication(create_backend_app))


def serve_moto(port: int, host: str = "127.0.0.1", parent: int = 0) -> None:
    """moto's server with DynamoDB serialised, in the foreground (what ``_MotoProcess`` runs); it
    ends itself when process ``parent`` is gone (killed, or exited without stopping it)."""
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import run_simple

    if parent:
        threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    run_simple(host, port, _moto_app(), threaded=True, request_handler=MotoRequestHandler)


def _exit_with(parent: int) -> None:
    """End this process once ``parent`` is no longer its parent (an orphan is adopted by another)."""
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(0)


class _MotoThread:
    """moto's server on a thread of this process (as moto's ThreadedMotoServer, DynamoDB serialised)."""

    def __init__(self, port: int = 0) -> None:
        from moto.moto_server.werkzeug_app import MotoRequestHandler
        from werkzeug.serving import make_server

        self._server = make_server("127.0.0.1", port, _moto_app(), threaded=True, request_handler=MotoRequestHandler)
        self.port = int(self._server.server_port)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)


class _MotoProcess:
    """moto's server as a child process (on another core), with DynamoDB serialised: ``serve_moto``."""

    def __init__(self, port: int = 0) -> None:
        import socket
        import subprocess

        if not port:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
        self.port = port
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and moto
            [sys.executable, "-c", f"from local.stack import serve_moto; serve_moto({int(port)}, parent={os.getpid()})"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # Stopped at exit even when nobody calls stop() (a failed run, a replaced stop); if this process
        # is killed instead, the server sees it is orphaned and ends itself (serve_moto's ``parent``).
        atexit.register(self.stop)
        import urllib.request

        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=1)
                return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError("moto's server did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        """Firmly: SIGTERM, a short wait, then SIGKILL (a busy server has been seen to ignore SIGTERM)."""
        import subprocess

        atexit.unregister(self.stop)
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=3)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def _reset_powertools_clients() -> None:
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


def http_event(
    route: Route,
    method: str,
    path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
    path_params: dict[str, str],
    source_ip: str,
    host: str,
    port: int,
    now: float | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event, as Lambda receives it."""
    params: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        params[key] = f"{params[key]},{value}" if key in params else value  # API Gateway joins repeats
    try:
        text, encoded = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode(), True
    now = time.time() if now is None else now
    return {
        "version": "2.0",
        "routeKey": f"{route.method} {route.path}",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {k.lower(): v for k, v in headers.items()},
        "queryStringParameters": params or None,
        "pathParameters": path_params or None,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "local",
            "domainName": f"{host}:{port}",
            "domainPrefix": host,
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": request_id or uuid.uuid4().hex,
            "routeKey": f"{route.method} {route.path}",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "body": text if text else None,
        "isBase64Encoded": encoded,
    }


def http_response(result: Any) -> tuple[int, dict[str, str], bytes]:
    if not isinstance(result, dict) or "statusCode" not in result:
        return 200, {"Content-Type": "application/json"}, json.dumps(result).encode()
    headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
    body = result.get("body") or ""
    payload = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    return int(result["statusCode"]), headers, payload


def sqs_event(messages: list[dict[str, Any]], arn: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": REGION,
            }
            for m in messages
        ]
    }
