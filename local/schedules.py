"""EventBridge Scheduler for the local stack: moto stores schedules (create, get, list, delete) but runs
none. ``LocalScheduler`` creates the template's schedule groups and, every second, fires each one-time
schedule (``at(...)``) whose time has come: its ``Input`` is sent to its target queue AS ITS ROLE (the
role's policy from template.yaml, checked by the same enforcer as the functions' calls, so a wake-up the
template does not allow fails here as in AWS), then, with ``ActionAfterCompletion: DELETE``, the
schedule is deleted. A target that fails is retried at the next tick. Recurring schedules (rate, cron)
and target types other than SQS are not modelled (the template has none)."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from local.iam import enforce
from local.template import ACCOUNT, REGION, Template


class LocalScheduler:
    def __init__(self, template: Template, enforcer: enforce.Enforcer, endpoint: str, clock: Callable[[], float] = time.time):
        import boto3

        self.template, self.enforcer, self.clock = template, enforcer, clock
        self.client = boto3.client("scheduler", endpoint_url=endpoint, region_name=REGION)
        self.sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=REGION)
        self.groups = [str(template.resolve({"Ref": g})) for g in template.of_type("AWS::Scheduler::ScheduleGroup")]
        for group in self.groups:
            self.client.create_schedule_group(Name=group)
        self.roles: dict[str, str] = {}  # role ARN -> the enforcer's name for it (its logical id)
        for logical, res in template.of_type("AWS::IAM::Role").items():
            arn = str(template.resolve({"Fn::GetAtt": [logical, "Arn"]}))
            self.roles[arn] = logical
            enforcer.statements[logical] = [
                enforce.Statement(
                    tuple(_list(s["Action"])), tuple(_list(template.resolve(s["Resource"]))), "Condition" in s, logical
                )
                for policy in res["Properties"].get("Policies", [])
                for s in policy["PolicyDocument"]["Statement"]
            ]
        self.fired: list[dict[str, Any]] = []

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(1.0):
            try:
                self.fire_due()
            except Exception as exc:
                sys.stderr.write(f"local scheduler: {exc!r}\n")

    def fire_due(self) -> int:
        fired = 0
        for group in self.groups:
            for entry in self.client.list_schedules(GroupName=group).get("Schedules", []):
                schedule = self.client.get_schedule(Name=entry["Name"], GroupName=group)
                if _due_at(schedule) > self.clock():
                    continue
                self._send(schedule)
                if schedule.get("ActionAfterCompletion") == "DELETE":
                    self.client.delete_schedule(Name=entry["Name"], GroupName=group)
                self.fired.append(schedule)
                fired += 1
        return fired

    def _send(self, schedule: dict[str, Any]) -> None:
        target = schedule["Target"]
        arn = str(target["Arn"])
        if not arn.startswith("arn:aws:sqs:"):
            raise ValueError(f"{schedule['Name']}: only SQS targets are modelled, not {arn}")
        queue = arn.rsplit(":", 1)[1]
        url = self.sqs.get_queue_url(QueueName=queue, QueueOwnerAWSAccountId=ACCOUNT)["QueueUrl"]
        role = self.roles.get(str(target.get("RoleArn")))
        if role is None:
            raise PermissionError(f"{schedule['Name']}: its role {target.get('RoleArn')} is not one of the template's")
        with self.enforcer.acting_as(role):
            self.sqs.send_message(QueueUrl=url, MessageBody=str(target.get("Input", "")))


def _list(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _due_at(schedule: dict[str, Any]) -> float:
    expression = str(schedule["ScheduleExpression"])
    if not expression.startswith("at("):
        return float("inf")  # rate()/cron(): not modelled
    zone = ZoneInfo(str(schedule.get("ScheduleExpressionTimezone") or "UTC"))
    return datetime.strptime(expression[3:-1], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=zone).timestamp()
