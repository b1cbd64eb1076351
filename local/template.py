"""Reading template.yaml: resources, function routes and queue triggers, with the few intrinsic
functions the template uses resolved for the local stack. The local stack is built from this, so it
cannot drift from what deploys."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
ACCOUNT = "123456789012"


class _CfnLoader(yaml.SafeLoader):
    pass


def _tag(name: str) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "Fn::GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {name: value}

    return construct


for _short in ("Ref", "Condition"):
    _CfnLoader.add_constructor(f"!{_short}", _tag(_short))
for _fn in ("GetAtt", "Sub", "If", "Not", "Equals", "Join", "Select", "Split", "And", "Or", "FindInMap", "Base64"):
    _CfnLoader.add_constructor(f"!{_fn}", _tag(f"Fn::{_fn}"))


@dataclass
class Route:
    function: str
    method: str
    path: str
    pattern: re.Pattern[str]


@dataclass
class QueueTrigger:
    function: str
    queue: str  # logical id
    batch_size: int
    window: float
    concurrency: int  # ScalingConfig.MaximumConcurrency; 0 when the template sets none


@dataclass
class FunctionSpec:
    logical_id: str
    code_dir: Path
    module: str
    handler: str
    environment: dict[str, Any] = field(default_factory=dict)


class Template:
    def __init__(self, path: Path = ROOT / "template.yaml") -> None:
        self.path = path
        self.doc: dict[str, Any] = yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506 - our own loader
        self.resources: dict[str, Any] = self.doc.get("Resources", {})
        self.parameters = {k: str(v.get("Default", "")) for k, v in self.doc.get("Parameters", {}).items()}
        self.physical: dict[str, dict[str, str]] = {}  # logical id -> {Ref, Arn, QueueName, …}

    def of_type(self, kind: str) -> dict[str, Any]:
        return {k: v for k, v in self.resources.items() if v.get("Type") == kind}

    def functions(self) -> list[FunctionSpec]:
        glob = self.doc.get("Globals", {}).get("Function", {})
        specs = []
        for logical_id, res in self.of_type("AWS::Serverless::Function").items():
            props = res.get("Properties", {})
            module, _, handler = props["Handler"].rpartition(".")
            env = dict(glob.get("Environment", {}).get("Variables", {}))
            env.update(props.get("Environment", {}).get("Variables", {}))
            specs.append(FunctionSpec(logical_id, ROOT / props["CodeUri"], module, handler, env))
        return specs

    def routes(self) -> list[Route]:
        routes = []
        for logical_id, res in self.of_type("AWS::Serverless::Function").items():
            for event in (res.get("Properties", {}).get("Events") or {}).values():
                if event.get("Type") != "HttpApi":
                    continue
                props = event["Properties"]
                regex = "^" + re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(props["Path"])) + "$"
                routes.append(Route(logical_id, props["Method"].upper(), props["Path"], re.compile(regex)))
        return routes

    def queue_triggers(self) -> list[QueueTrigger]:
        triggers = []
        for logical_id, res in self.of_type("AWS::Serverless::Function").items():
            for event in (res.get("Properties", {}).get("Events") or {}).values():
                if event.get("Type") != "SQS":
                    continue
                props = event["Properties"]
                queue = props["Queue"]["Fn::GetAtt"][0]
                # Template parameters (e.g. MaximumBatchingWindowInSeconds: !Ref StatusBatchWindow) resolve
                # to their defaults, as a deploy without overrides gets them.
                triggers.append(
                    QueueTrigger(
                        logical_id,
                        queue,
                        int(self.resolve(props.get("BatchSize", 10))),
                        float(self.resolve(props.get("MaximumBatchingWindowInSeconds", 0))),
                        int(self.resolve((props.get("ScalingConfig") or {}).get("MaximumConcurrency", 0))),
                    )
                )
        return triggers

    def sns_subscriptions(self) -> dict[str, list[str]]:
        """topic logical id -> the functions an ``SNS`` event subscribes to it."""
        found: dict[str, list[str]] = {}
        for logical_id, res in self.of_type("AWS::Serverless::Function").items():
            for event in (res.get("Properties", {}).get("Events") or {}).values():
                if event.get("Type") == "SNS":
                    found.setdefault(event["Properties"]["Topic"]["Ref"], []).append(logical_id)
        return found

    def schedules(self) -> list[tuple[str, float]]:
        """(function, seconds) for every ``Schedule: rate(N unit)`` event."""
        found: list[tuple[str, float]] = []
        units = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}
        for logical_id, res in self.of_type("AWS::Serverless::Function").items():
            for event in (res.get("Properties", {}).get("Events") or {}).values():
                if event.get("Type") != "Schedule":
                    continue
                match = re.fullmatch(r"rate\((\d+) (\w+)\)", str(event["Properties"]["Schedule"]))
                if match and match.group(2) in units:
                    found.append((logical_id, int(match.group(1)) * units[match.group(2)]))
        return found

    # -- intrinsic functions ---------------------------------------------------------------
    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            ((name, arg),) = value.items()
            if name == "Ref":
                return self._ref(arg)
            if name == "Fn::GetAtt":
                logical, attr = arg
                return self.physical.get(logical, self._named(logical)).get(attr, f"{logical}.{attr}")
            if name == "Fn::Sub":
                text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                return re.sub(
                    r"\$\{([^}]+)\}",
                    lambda m: str(self.resolve(extra[m.group(1)]) if m.group(1) in extra else self._sub_variable(m.group(1))),
                    text,
                )
            if name == "Fn::If":
                cond, yes, no = arg
                return self.resolve(yes if self.condition(cond) else no)
            if name == "Fn::Join":
                sep, items = arg
                return sep.join(str(self.resolve(i)) for i in items)
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def condition(self, name: str) -> bool:
        return bool(self._eval(self.doc.get("Conditions", {})[name]))

    def _eval(self, expr: Any) -> Any:
        if isinstance(expr, dict) and len(expr) == 1:
            ((name, arg),) = expr.items()
            if name == "Fn::Not":
                return not self._eval(arg[0])
            if name == "Fn::Equals":
                return str(self.resolve(arg[0])) == str(self.resolve(arg[1]))
            if name == "Fn::And":
                return all(self._eval(a) for a in arg)
            if name == "Fn::Or":
                return any(self._eval(a) for a in arg)
            if name == "Condition":
                return self.condition(arg)
        return self.resolve(expr)

    def _sub_variable(self, name: str) -> str:
        """``${Name}`` (a Ref) or ``${Logical.Attribute}`` (a GetAtt) in a ``Fn::Sub``."""
        logical, dot, attr = name.partition(".")
        if dot and logical in self.physical:
            return self.physical[logical].get(attr, name)
        return self._ref(name)

    def _ref(self, name: str) -> str:
        pseudo = {
            "AWS::Partition": "aws",
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "b24sms-local",
            "AWS::NoValue": "",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.physical:
            return self.physical[name]["Ref"]
        return self._named(name).get("Ref", name)

    def _named(self, logical: str) -> dict[str, str]:
        """What the local stack calls the resources it does not create from a table of its own: an IAM
        role (a name; local/schedules.py acts as it) and a Scheduler group (its ``Name``)."""
        kind = self.resources.get(logical, {}).get("Type")
        if kind == "AWS::IAM::Role":
            return {"Ref": f"{logical}-local", "Arn": f"arn:aws:iam::{ACCOUNT}:role/{logical}-local"}
        if kind == "AWS::Scheduler::ScheduleGroup":
            group = str(self.resolve(self.resources[logical]["Properties"]["Name"]))
            return {"Ref": group, "Arn": f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule-group/{group}"}
        return {}
