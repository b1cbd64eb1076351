"""Write local/iam/policies.json: each function's IAM permissions as deployed, for the local stack to
enforce (local/iam/enforce.py). Run with the SAM virtualenv's Python (it needs SAM's translator):

    make iam-policies                     # = .venv-sam/bin/python -m local.iam.gen
    .venv-sam/bin/python -m local.iam.gen --check            # exit 1 when the file is stale
    .venv-sam/bin/python -m local.iam.gen --stdout Tracing=Active

template.yaml goes through SAM's own translator (what CloudFormation's transform does at deploy), so
each function's role is what SAM makes of it: the inline ``Policies`` statements, plus the managed
policies SAM attaches (AWSLambdaBasicExecutionRole always, AWSLambdaSQSQueueExecutionRole for an SQS
event source, AWSXrayWriteOnlyAccess with tracing on, DLQ and destination statements …). Managed
policies' statements come from local/iam/managed.json, a checked-in table of their documented actions.
Resources stay templates (``Fn::GetAtt``, ``Fn::Sub``, ``Fn::If``): the local stack resolves them to
its own tables' and queues' ARNs. Template parameters take their defaults unless given as Key=Value.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
POLICIES = HERE / "policies.json"
MANAGED = HERE / "managed.json"
REGION = "us-east-1"  # fixed, so the output does not depend on the machine (ARN partitions)
COMMENT = (
    "Generated from template.yaml by SAM's translator: `make iam-policies` (.venv-sam/bin/python -m local.iam.gen). "
    "Do not edit; regenerate after changing a function's Policies or events (tests/unit/test_iam_policies.py "
    "fails while it is stale)."
)


def translate(template: Path, parameters: dict[str, str]) -> dict[str, Any]:
    """The CloudFormation template SAM's transform makes of ``template``."""
    os.environ["AWS_DEFAULT_REGION"] = REGION  # the translator asks boto for a region (pseudo parameters)
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse

    class NoManagedPolicyNames:  # the template names no managed policy by its short name
        def load(self) -> dict[str, str]:
            return {}

    doc = yaml_parse(template.read_text())
    for resource in doc.get("Resources", {}).values():
        props = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):  # local folders: `sam package` uploads them; here any S3 URI
            if isinstance(props.get(key), str):
                props[key] = f"s3://local-build/{props[key].strip('/')}"
    result: dict[str, Any] = transform(doc, dict(parameters), NoManagedPolicyNames())
    return result


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statement(source: str, raw: dict[str, Any]) -> dict[str, Any]:
    if "NotAction" in raw or "NotResource" in raw:
        raise SystemExit(f"{source}: NotAction/NotResource are not supported by the local enforcement")
    statement: dict[str, Any] = {"Source": source}
    if "Sid" in raw:
        statement["Sid"] = raw["Sid"]
    statement["Effect"] = raw.get("Effect", "Allow")
    statement["Action"] = _listed(raw["Action"])
    statement["Resource"] = _listed(raw["Resource"])
    if "Condition" in raw:
        statement["Condition"] = raw["Condition"]
    return statement


def managed_name(arn: Any) -> str:
    text = arn if isinstance(arn, str) else json.dumps(arn)
    if ":policy/" not in text:
        raise SystemExit(f"managed policy {text}: not an AWS-managed policy ARN")
    return text.split(":policy/", 1)[1].rstrip('"}')


def role_of(function: dict[str, Any]) -> str:
    role = function["Properties"]["Role"]
    if isinstance(role, dict) and "Fn::GetAtt" in role:
        return str(role["Fn::GetAtt"][0])
    raise SystemExit(f"a function's Role is {role!r}: only roles of the template are supported")


def policies(cfn: dict[str, Any], managed_table: dict[str, Any]) -> dict[str, Any]:
    resources: dict[str, Any] = cfn["Resources"]
    found: dict[str, Any] = {}
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        role_id = role_of(resource)
        role = resources[role_id]["Properties"]
        statements: list[dict[str, Any]] = []
        for policy in role.get("Policies", []):
            for raw in _listed(policy["PolicyDocument"]["Statement"]):
                statements.append(_statement(policy["PolicyName"], raw))
        # Policies attached to the role from outside it (AWS::IAM::Policy, e.g. SAM connectors).
        for other_id, other in resources.items():
            if other["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in other["Properties"].get("Roles", []):
                for raw in _listed(other["Properties"]["PolicyDocument"]["Statement"]):
                    statements.append(_statement(other_id, raw))
        managed = [managed_name(arn) for arn in role.get("ManagedPolicyArns", [])]
        for name in managed:
            if name not in managed_table:
                raise SystemExit(f"{logical_id}: managed policy {name} is not in {MANAGED.name}; add its documented statements")
            statements.extend(_statement(name, raw) for raw in managed_table[name])
        found[logical_id] = {"role": role_id, "managed": managed, "statements": statements}
    return found


def generate(parameters: dict[str, str] | None = None, template: Path = ROOT / "template.yaml") -> str:
    managed_table = {k: v for k, v in json.loads(MANAGED.read_text()).items() if not k.startswith("_")}
    return render(policies(translate(template, parameters or {}), managed_table))


def render(functions: dict[str, Any]) -> str:
    """JSON with one statement a line: a change to a grant is a one-line diff."""

    def one(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))

    lines = ["{", f' "_comment": {one(COMMENT)},', ' "functions": {']
    for i, (name, policy) in enumerate(functions.items()):
        lines += [f"  {one(name)}: {{", f'   "role": {one(policy["role"])},', f'   "managed": {one(policy["managed"])},']
        statements = [f"    {one(s)}" for s in policy["statements"]]
        lines += ['   "statements": [', ",\n".join(statements), "   ]", "  }" + ("," if i < len(functions) - 1 else "")]
    lines += [" }", "}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("parameters", nargs="*", metavar="Key=Value", help="template parameters (default: their defaults)")
    parser.add_argument("--check", action="store_true", help=f"exit 1 if {POLICIES.name} differs from what would be written")
    parser.add_argument("--stdout", action="store_true", help="print instead of writing the file")
    args = parser.parse_args(argv)
    try:
        parameters = dict(p.split("=", 1) for p in args.parameters)
    except ValueError:
        parser.error("parameters are Key=Value")
    text = generate(parameters)
    if args.stdout:
        sys.stdout.write(text)
        return 0
    if args.check:
        stale = not POLICIES.exists() or POLICIES.read_text() != text
        if stale:
            print(f"{POLICIES.relative_to(ROOT)} is stale: run `make iam-policies`", file=sys.stderr)
        return 1 if stale else 0
    POLICIES.write_text(text)
    print(f"wrote {POLICIES.relative_to(ROOT)} ({len(json.loads(text)['functions'])} functions)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
