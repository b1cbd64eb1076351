"""The whole bundle on one machine, no Docker, no AWS account.

DynamoDB and SQS come from moto's server, started in-process; the tables and queues are those of
template.yaml; every HttpApi route of the template is served on 127.0.0.1; every SQS trigger is fed by
a poller that invokes its function with a real SQS event and honours partial batch failures, as
Lambda's event source mapping does. Functions run in this process, imported from functions/<name>/app.py
with the layer on sys.path, with the environment the template gives them.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from local.functions import LAYER_DIR, load_handler, reset_powertools_clients
from local.httpserver import LoopbackServer
from local.iam import enforce as iam
from local.lambda_events import LambdaContext, http_event, http_response, sns_event, sqs_event
from local.moto_server import MotoProcess, MotoThread, serve_moto
from local.schedules import LocalScheduler
from local.settings import LOCAL_DEFAULTS, OVERRIDABLE
from local.template import ACCOUNT, REGION, FunctionSpec, QueueTrigger, Route, Template

# Other modules' names, still importable from here (older imports, other branches): their homes are
# local/settings.py, local/lambda_events.py, local/functions.py and local/moto_server.py.
__all__ = [
    "LAYER_DIR",
    "LOCAL_DEFAULTS",
    "OVERRIDABLE",
    "LambdaContext",
    "LocalStack",
    "MotoProcess",
    "MotoThread",
    "http_event",
    "http_response",
    "load_handler",
    "serve_moto",
    "sqs_event",
]
_MotoProcess, _MotoThread = MotoProcess, MotoThread
# While a poller gathers a batch within its window, it asks again this often. Every ask is a request
# moto serves on the same core as DynamoDB: at 0.05 s the ten push pollers' asks were a third of
# moto's requests in a campaign (about 6 receives per SMS), and moto is the stack's throughput bound.
GATHER_PAUSE = 0.25


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
        start-lambda`, each function in its Lambda container (local/lambda_containers.py), instead of in-process;
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
        self.remote: Any = None  # lambda_mode "sam": a local.lambda_containers.StartLambda
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
            self._moto = MotoProcess(self.moto_port)
        else:
            self._moto = MotoThread(self.moto_port)
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
            from local.lambda_containers import StartLambda

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
        event = sns_event(arn, message if isinstance(message, str) else json.dumps(message))
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
        reset_powertools_clients()

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
                time.sleep(min(GATHER_PAUSE, max(0.0, deadline - time.monotonic())))
        return messages
