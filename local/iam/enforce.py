"""Each function's deployed permissions, enforced in the local stack.

While a function runs (``Enforcer.acting_as``, which the local stack's invoker and queue pollers use),
every AWS call it makes through botocore is checked against that function's statements from
policies.json (written by ``local.iam.gen`` from the SAM-translated template): the IAM action
(``dynamodb:UpdateItem``, ``sqs:ChangeMessageVisibility`` …) and the resource ARN (table, index
``table/X/index/Y``, queue, SSM parameter, secret, sms-voice resource). A call no statement allows
raises what AWS raises (``ClientError`` AccessDeniedException, or AccessDenied for SQS) before it
reaches moto. Calls with no current function (tests, the emulator, fixtures, the stack itself) are not
checked. Every checked call is recorded (function, action, resource, allowed) for tests to assert on.

The current function is a context variable: set per invocation, on the invoking thread. A function
that hands work to other threads must run it in a copy of its context (``contextvars.copy_context``),
as ``Enforcer.run_as`` shows; a thread started without it makes unchecked calls.

Each function also gets Powertools parameter providers of its own (``PerFunctionProviders``): a
secret cached by one function is not served to another without that one's own, checked, call.

Not modelled: explicit Deny, NotAction/NotResource, resource policies, and conditions (a statement
with a ``Condition`` is taken as matching).
"""

from __future__ import annotations

import contextlib
import contextvars
import fnmatch
import functools
import json
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, TypeVar
from urllib.parse import urlsplit

POLICIES = Path(__file__).resolve().parent / "policies.json"
T = TypeVar("T")

# Batch operations are authorised by their single action (the SQS API reference says so).
BATCH_ACTIONS = {
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}
# What each service answers a call its caller may not make: error code and HTTP status.
DENIAL = {"sqs": ("AccessDenied", 403), "sms-voice": ("AccessDeniedException", 403)}
DEFAULT_DENIAL = ("AccessDeniedException", 400)


class Call(NamedTuple):
    function: str
    action: str
    resource: str
    allowed: bool


@dataclass(frozen=True)
class Statement:
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditional: bool
    source: str

    def allows(self, action: str, resource: str) -> bool:
        return any(_matches(p, action, fold=True) for p in self.actions) and any(_matches(p, resource) for p in self.resources)


def _matches(pattern: str, value: str, fold: bool = False) -> bool:
    """IAM's wildcards: ``*`` any run of characters, ``?`` one; actions ignore case, ARNs do not."""
    if fold:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


_current: contextvars.ContextVar[tuple[Enforcer, str] | None] = contextvars.ContextVar("b24sms_iam_function", default=None)


class Enforcer:
    def __init__(self, statements: dict[str, list[Statement]], account: str, enforce: bool = True) -> None:
        self.statements = statements
        self.account = account
        self.enforce = enforce  # False: record only (what would have been denied is recorded as such)
        self.calls: Counter[Call] = Counter()
        self._lock = threading.Lock()

    @classmethod
    def from_policies(cls, resolve: Callable[[Any], Any], account: str, path: Path = POLICIES, enforce: bool = True) -> Enforcer:
        """The statements of ``path`` with their resource templates resolved by ``resolve`` (the local
        stack's ``Template.resolve``: its tables' and queues' ARNs)."""
        document = json.loads(path.read_text())
        statements: dict[str, list[Statement]] = {}
        for function, policy in document["functions"].items():
            found = []
            for raw in policy["statements"]:
                if raw["Effect"] != "Allow":
                    raise ValueError(f"{function}: only Allow statements are modelled ({raw.get('Sid')})")
                resources = tuple(r for r in _flatten(resolve(raw["Resource"])) if r)  # "" is AWS::NoValue
                found.append(Statement(tuple(raw["Action"]), resources, "Condition" in raw, str(raw.get("Source", ""))))
            statements[function] = found
        return cls(statements, account, enforce)

    # -- who is calling ------------------------------------------------------------------------
    @contextlib.contextmanager
    def acting_as(self, function: str) -> Iterator[None]:
        """AWS calls made on this thread (and in copies of its context) are ``function``'s."""
        token = _current.set((self, function))
        try:
            yield
        finally:
            _current.reset(token)

    @staticmethod
    def run_as(target: Callable[..., T]) -> Callable[..., T]:
        """``target`` wrapped to run in a copy of the caller's context: hand this to a thread (or an
        executor) so the calls it makes are still the current function's."""
        context = contextvars.copy_context()
        return functools.partial(context.run, target)

    # -- the check -------------------------------------------------------------------------------
    def check(self, function: str, action: str, resources: list[str], operation: str) -> None:
        for resource in resources:
            allowed = any(s.allows(action, resource) for s in self.statements.get(function, []))
            call = Call(function, action, resource, allowed)
            with self._lock:
                first = call not in self.calls
                self.calls[call] += 1
            if not allowed and first:  # said once, even where the caller swallows the error
                why = "its role in template.yaml" if function in self.statements else "not in local/iam/policies.json"
                sys.stderr.write(f"IAM: {function} may not {action} on {resource} ({why}: make iam-policies)\n")
            if not allowed and self.enforce:
                raise _denied(function, action, resource, operation, self.account)

    def seen(self, function: str | None = None, action: str | None = None) -> list[Call]:
        """The distinct calls recorded, optionally of one function and/or action."""
        with self._lock:
            calls = list(self.calls)
        return [c for c in calls if (function is None or c.function == function) and (action is None or c.action == action)]

    def denied(self) -> list[Call]:
        return [c for c in self.seen() if not c.allowed]

    def report(self) -> dict[str, Any]:
        """Every distinct call with its count, denials first (what ``LOCAL_IAM_REPORT`` writes)."""
        with self._lock:
            calls = sorted(self.calls.items(), key=lambda item: (item[0].allowed, item[0]))
        return {
            "denied": [c._asdict() | {"count": n} for c, n in calls if not c.allowed],
            "allowed": [c._asdict() | {"count": n} for c, n in calls if c.allowed],
        }

    def count(self, function: str, action: str, allowed: bool = True) -> int:
        with self._lock:
            return sum(n for c, n in self.calls.items() if c.function == function and c.action == action and c.allowed == allowed)


def _flatten(value: Any) -> Iterator[str]:
    if isinstance(value, list):
        for item in value:
            yield from _flatten(item)
    else:
        yield str(value)


def _denied(function: str, action: str, resource: str, operation: str, account: str) -> Exception:
    from botocore.exceptions import ClientError

    code, status = DENIAL.get(action.split(":", 1)[0], DEFAULT_DENIAL)
    message = (
        f"User: arn:aws:sts::{account}:assumed-role/{function}Role/{function} is not authorized to perform: "
        f"{action} on resource: {resource} because no identity-based policy allows the {action} action"
    )
    error: Exception = ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, operation
    )
    return error


# -- what a call asks for -------------------------------------------------------------------------------
def action_of(service: str, operation: str) -> str:
    action = f"{service}:{operation}"
    return BATCH_ACTIONS.get(action, action)


def resources_of(service: str, operation: str, params: dict[str, Any], region: str, account: str) -> list[str]:
    """The ARNs a call acts on, as IAM evaluates them ("*" for an action on no resource)."""
    arn = f"arn:aws:{service}:{region}:{account}"
    if service == "dynamodb":
        return _dynamodb(operation, params, arn)
    if service == "sqs":
        if "QueueUrl" in params:
            return [_queue_arn(str(params["QueueUrl"]), region, account)]
        if "QueueName" in params:
            return [f"arn:aws:sqs:{region}:{params.get('QueueOwnerAWSAccountId') or account}:{params['QueueName']}"]
        return ["*"]
    if service == "ssm":
        names = params.get("Names") or [params[k] for k in ("Name", "Path") if k in params]
        return [n if str(n).startswith("arn:") else f"{arn}:parameter/{str(n).lstrip('/')}" for n in names] or ["*"]
    if service == "secretsmanager":
        secret = params.get("SecretId") or params.get("Name")
        if not secret:
            return ["*"]
        return [str(secret) if str(secret).startswith("arn:") else f"{arn}:secret:{secret}"]
    if service == "sms-voice":
        return _sms_voice(params, arn)
    if service == "scheduler" and "Name" in params:  # CreateSchedule, GetSchedule, DeleteSchedule …
        return [f"{arn}:schedule/{params.get('GroupName') or 'default'}/{params['Name']}"]
    return ["*"]


def _dynamodb(operation: str, params: dict[str, Any], arn: str) -> list[str]:
    def table(name: str) -> str:
        return name if name.startswith("arn:") else f"{arn}:table/{name}"

    if "RequestItems" in params:  # BatchGetItem, BatchWriteItem
        return [table(str(name)) for name in params["RequestItems"]]
    if "TransactItems" in params:
        return [table(str(next(iter(item.values()))["TableName"])) for item in params["TransactItems"]]
    if "TableName" in params:
        name = table(str(params["TableName"]))
        return [f"{name}/index/{params['IndexName']}" if params.get("IndexName") else name]
    return ["*"]


def _queue_arn(url: str, region: str, account: str) -> str:
    """``https://sqs.<region>.amazonaws.com/<account>/<name>`` (or moto's ``http://host/<account>/<name>``)."""
    parts = [p for p in urlsplit(url).path.split("/") if p]
    owner, name = (parts[-2], parts[-1]) if len(parts) >= 2 else (account, parts[-1] if parts else "")
    return f"arn:aws:sqs:{region}:{owner}:{name}"


def _sms_voice(params: dict[str, Any], arn: str) -> list[str]:
    def identity(value: str) -> str:
        if value.startswith("arn:"):
            return value
        if value.startswith("pool-"):
            return f"{arn}:pool/{value}"
        if value.startswith("+") or value.startswith("phone-"):
            return f"{arn}:phone-number/{value}"
        return f"{arn}:sender-id/{value}"

    found = [identity(str(params["OriginationIdentity"]))] if params.get("OriginationIdentity") else []
    if params.get("ConfigurationSetName"):
        found.append(f"{arn}:configuration-set/{params['ConfigurationSetName']}")
    found += [identity(str(i)) for i in params.get("PhoneNumberIds") or []]
    found += [identity(str(i)) for i in params.get("PoolIds") or []]
    found += [f"{arn}:sender-id/{s.get('SenderId')}/{s.get('IsoCountryCode')}" for s in params.get("SenderIds") or []]
    return found or [f"{arn}:*"]


# -- the botocore hook --------------------------------------------------------------------------------------
def _check_call(params: dict[str, Any], model: Any, context: dict[str, Any] | None = None, **_: Any) -> None:
    current = _current.get()
    if current is None:
        return  # not a function's call: tests, the emulator, the stack itself
    enforcer, function = current
    service = str(model.service_model.signing_name)
    region = str((context or {}).get("client_region") or "us-east-1")
    resources = resources_of(service, model.name, params, region, enforcer.account)
    enforcer.check(function, action_of(service, model.name), resources, model.name)
    role = (params.get("Target") or {}).get("RoleArn") if service == "scheduler" else None
    if role:  # handing a role to Scheduler needs iam:PassRole on it, as AWS checks
        enforcer.check(function, "iam:PassRole", [str(role)], model.name)


def _register(client: Any) -> Any:
    client.meta.events.register_first("provide-client-params", _check_call, unique_id="b24sms-local-iam")
    return client


class PerFunctionProviders(dict[Any, Any]):
    """Powertools' parameter providers, one set per function, as each Lambda function has a process of
    its own: a secret one function read (and cached for five minutes) is not served to another without
    that one's own, checked, call."""

    @staticmethod
    def _key(name: Any) -> tuple[str, Any]:
        current = _current.get()
        return (current[1] if current else "", name)

    def __contains__(self, name: object) -> bool:
        return dict.__contains__(self, self._key(name))

    def __getitem__(self, name: Any) -> Any:
        return dict.__getitem__(self, self._key(name))

    def __setitem__(self, name: Any, provider: Any) -> None:
        dict.__setitem__(self, self._key(name), provider)


def _separate_powertools_providers() -> None:
    from aws_lambda_powertools.utilities.parameters import constants

    providers = PerFunctionProviders()
    constants.DEFAULT_PROVIDERS = providers  # what modules imported from now on bind
    for name, module in list(sys.modules.items()):  # and those imported already
        if name.startswith("aws_lambda_powertools.utilities.parameters") and hasattr(module, "DEFAULT_PROVIDERS"):
            setattr(module, "DEFAULT_PROVIDERS", providers)  # noqa: B010 - the name each module bound


_installed = False
_install_lock = threading.Lock()


def install() -> None:
    """Hook every botocore client created from now on (any session: boto3's default, Powertools' own)
    to the check, and give each function Powertools parameter providers (and caches) of its own.
    Idempotent; a no-op for calls with no current function."""
    global _installed
    with _install_lock:
        if _installed:
            return
        import botocore.session

        create_client = botocore.session.Session.create_client

        @functools.wraps(create_client)
        def create_checked_client(self: Any, *args: Any, **kwargs: Any) -> Any:
            return _register(create_client(self, *args, **kwargs))

        botocore.session.Session.create_client = create_checked_client  # type: ignore[method-assign]
        _separate_powertools_providers()
        _installed = True
