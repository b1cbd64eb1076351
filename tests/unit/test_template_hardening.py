"""What template.yaml promises an operator (issue #17, "The template"): nothing invoked asynchronously
fails without a trace, the tables that cannot be rebuilt survive a `sam delete` or a replacement, every
log group is declared with a retention, every failure mode pages someone (when someone is named), the
handler's request budget is its own, dispatch is bounded, queues outlast their consumers, and a Vonage
deployment cannot take unsigned receipts.

Each test names what it guards; each fails when the guarded line is removed from the template."""

from __future__ import annotations

import re
from typing import Any

import pytest

from local.template import Template

# Lambda invokes these event sources asynchronously: a failure is retried twice, then dropped unless the
# function has a dead-letter queue or an on-failure destination.
ASYNC_EVENT_TYPES = {"SNS", "Schedule", "ScheduleV2", "S3", "EventBridgeRule", "CloudWatchEvent", "CloudWatchLogs", "IoTRule"}
# CloudWatch Logs' allowed retentions (days).
RETENTIONS = {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
FOURTEEN_DAYS = 1209600
# Tables whose loss cannot be repaired by the app: every portal's tokens and HANDLER secret (each portal
# would have to reinstall), every message and its status, the opt-outs (STOP) and the audit log.
RETAINED_TABLES = {"PortalsTable", "MessagesTable", "ChatsTable"}
# Token buckets only: a missing bucket is a full one, so a new empty table loses nothing.
REBUILDABLE_TABLES = {"LimitsTable"}
NOTIFY = [
    {"Fn::If": ["HasAlarmTopic", {"Ref": "AlarmTopicArn"}, {"Ref": "AWS::NoValue"}]},
    {"Fn::If": ["HasAlarmEmail", {"Ref": "AlarmEmailTopic"}, {"Ref": "AWS::NoValue"}]},
]


@pytest.fixture(scope="module")
def template() -> Template:
    return Template()


def functions(template: Template) -> dict[str, Any]:
    return template.of_type("AWS::Serverless::Function")


def parameter(template: Template, value: Any) -> dict[str, Any]:
    assert isinstance(value, dict) and set(value) == {"Ref"}, f"{value!r} is not a parameter"
    spec: dict[str, Any] = template.doc["Parameters"][value["Ref"]]
    return spec


def alarms_on(template: Template, namespace: str, metric: str, name: str, value: Any) -> list[dict[str, Any]]:
    found = []
    for alarm in template.of_type("AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        dimension = {"Name": name, "Value": value}
        if (props.get("Namespace"), props.get("MetricName")) == (namespace, metric) and dimension in props["Dimensions"]:
            found.append(props)
    return found


def test_every_async_function_has_an_encrypted_dead_letter_queue_kept_14_days(template: Template) -> None:
    asynchronous = {
        name
        for name, res in functions(template).items()
        if any(e.get("Type") in ASYNC_EVENT_TYPES for e in (res["Properties"].get("Events") or {}).values())
    }
    assert asynchronous >= {"SmsEventsFunction", "RecoverFunction"}
    for name in sorted(asynchronous):
        dlq = functions(template)[name]["Properties"].get("DeadLetterQueue")
        assert dlq, f"{name} is invoked asynchronously: a failure after Lambda's retries would vanish"
        assert dlq["Type"] == "SQS"  # SAM adds the role's sqs:SendMessage on it
        (queue, attribute) = dlq["TargetArn"]["Fn::GetAtt"]
        assert attribute == "Arn"
        props = template.resources[queue]["Properties"]
        assert props["SqsManagedSseEnabled"] is True
        assert props["MessageRetentionPeriod"] == FOURTEEN_DAYS


def dead_letter_queues(template: Template) -> set[str]:
    found = set()
    for res in template.of_type("AWS::SQS::Queue").values():
        target = (res["Properties"].get("RedrivePolicy") or {}).get("deadLetterTargetArn")
        if target:
            found.add(target["Fn::GetAtt"][0])
    for res in functions(template).values():
        dlq = res["Properties"].get("DeadLetterQueue")
        if dlq:
            found.add(dlq["TargetArn"]["Fn::GetAtt"][0])
    return found


def test_every_dead_letter_queue_has_a_depth_alarm_that_notifies(template: Template) -> None:
    queues = dead_letter_queues(template)
    assert queues >= {"OutboundDLQ", "StatusDLQ", "SmsEventsDLQ", "RecoverDLQ", "SyncDLQ"}
    for queue in sorted(queues):
        (alarm,) = alarms_on(
            template, "AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", {"Fn::GetAtt": [queue, "QueueName"]}
        )
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold"), queue
        assert alarm["AlarmActions"] == NOTIFY, queue


@pytest.mark.parametrize("table", sorted(RETAINED_TABLES))
def test_tables_that_cannot_be_rebuilt_survive_delete_and_replacement(template: Template, table: str) -> None:
    res = template.resources[table]
    assert res.get("DeletionPolicy") == "Retain", "sam delete would delete it"
    assert res.get("UpdateReplacePolicy") == "Retain", "a replacing update would delete the old table"
    assert res["Properties"].get("DeletionProtectionEnabled") is True, "DeleteTable from anywhere would succeed"
    assert res["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_every_table_is_either_retained_or_named_rebuildable(template: Template) -> None:
    assert set(template.of_type("AWS::DynamoDB::Table")) == RETAINED_TABLES | REBUILDABLE_TABLES


@pytest.mark.parametrize("function", sorted(Template().of_type("AWS::Serverless::Function")))
def test_each_function_logs_to_its_declared_group_with_a_retention(template: Template, function: str) -> None:
    props = functions(template)[function]["Properties"]
    group = props.get("LoggingConfig", {}).get("LogGroup")
    assert group, f"{function}: Lambda would create /aws/lambda/<name> itself, kept forever"
    (logical,) = group.values()
    assert set(group) == {"Ref"}
    res = template.resources[logical]
    assert res["Type"] == "AWS::Logs::LogGroup"
    assert res["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    # The group is named as Lambda would name it, so the console, `sam logs` and habits find it.
    name = props["FunctionName"]["Fn::Sub"]
    assert res["Properties"]["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/{name}"}
    assert name.startswith("b24sms-${Stage}-")
    assert len(name.replace("${Stage}", "x" * template.doc["Parameters"]["Stage"]["MaxLength"])) <= 64


def test_log_retention_is_a_parameter_of_allowed_values(template: Template) -> None:
    spec = template.doc["Parameters"]["LogRetentionDays"]
    assert set(spec["AllowedValues"]) == RETENTIONS
    assert spec["Default"] == 30


@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_each_function_has_errors_and_throttles_alarms(template: Template, metric: str) -> None:
    for function in sorted(functions(template)):
        found = alarms_on(template, "AWS/Lambda", metric, "FunctionName", {"Ref": function})
        assert len(found) == 1, f"{function}: no {metric} alarm"
        (alarm,) = found
        assert (alarm["Statistic"], alarm["Threshold"], alarm["ComparisonOperator"]) == ("Sum", 0, "GreaterThanThreshold")
        assert alarm["TreatMissingData"] == "notBreaching"
        assert alarm["AlarmActions"] == NOTIFY, function


def test_the_http_apis_5xx_has_an_alarm(template: Template) -> None:
    (alarm,) = alarms_on(template, "AWS/ApiGateway", "5xx", "ApiId", {"Ref": "HttpApi"})
    assert alarm["Statistic"] == "Sum"
    assert alarm["AlarmActions"] == NOTIFY


def test_every_alarm_notifies_the_topic_or_the_email_whichever_is_set(template: Template) -> None:
    alarms = template.of_type("AWS::CloudWatch::Alarm")
    assert len(alarms) >= 2 * len(functions(template)) + 5
    for name, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == NOTIFY, name


def test_an_alarm_email_gets_its_own_topic_and_subscription(template: Template) -> None:
    spec = template.doc["Parameters"]["AlarmEmail"]
    assert spec["Default"] == ""
    assert re.fullmatch(spec["AllowedPattern"], "ops@example.com")
    assert not re.fullmatch(spec["AllowedPattern"], "not an address")
    topic = template.resources["AlarmEmailTopic"]
    assert topic["Condition"] == "HasAlarmEmail"
    assert topic["Properties"]["Subscription"] == [{"Protocol": "email", "Endpoint": {"Ref": "AlarmEmail"}}]
    assert template.doc["Conditions"]["HasAlarmEmail"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]}
    # `sam deploy --guided` asks the parameters in the template's order: the alarm's are asked early.
    order = list(template.doc["Parameters"])
    assert order.index("AlarmEmail") < 3 and order.index("AlarmTopicArn") < 3


def test_the_handler_keeps_its_own_throttling_budget_and_every_other_route_a_bounded_one(template: Template) -> None:
    settings = template.resources["HttpApi"]["Properties"]["RouteSettings"]
    keys = {f"{route.method} {route.path}" for route in template.routes()}
    assert set(settings) == keys, "every route has its own budget"
    handler = settings.pop("POST /bitrix/handler")
    handler_rate = parameter(template, handler["ThrottlingRateLimit"])
    handler_burst = parameter(template, handler["ThrottlingBurstLimit"])
    for key, limits in settings.items():
        rate = parameter(template, limits["ThrottlingRateLimit"])
        burst = parameter(template, limits["ThrottlingBurstLimit"])
        assert rate is not handler_rate and burst is not handler_burst, f"{key} shares the handler's budget"
        assert 0 < rate["Default"] <= handler_rate["Default"], key
        assert 0 < burst["Default"] <= handler_burst["Default"], key
        assert rate["MinValue"] >= 1 and burst["MinValue"] >= 1, key


def test_every_queue_consumer_has_a_bounded_concurrency_and_dispatchs_is_a_parameter(template: Template) -> None:
    for trigger in template.queue_triggers():
        assert 2 <= trigger.concurrency <= 1000, trigger.function  # Lambda's allowed range
    event = functions(template)["DispatchFunction"]["Properties"]["Events"]["Outbound"]["Properties"]
    spec = parameter(template, event["ScalingConfig"]["MaximumConcurrency"])
    assert (spec["MinValue"], spec["MaxValue"]) == (2, 1000)
    assert 2 <= spec["Default"] <= 10


def function_timeout(template: Template, function: str) -> int:
    props = functions(template)[function]["Properties"]
    return int(props.get("Timeout", template.doc["Globals"]["Function"]["Timeout"]))


def worst_window(template: Template, value: Any) -> int:
    if isinstance(value, dict):
        return int(parameter(template, value)["MaxValue"])
    return int(value or 0)


def test_each_queues_visibility_outlasts_six_consumer_timeouts_and_its_batching_window(template: Template) -> None:
    """AWS's guidance for SQS event sources: VisibilityTimeout >= 6 x the function's timeout + the
    batching window, or a batch still being worked on (or retried by Lambda) comes back to another."""
    triggers = template.queue_triggers()
    assert {t.queue for t in triggers} == {"OutboundQueue", "StatusQueue", "SyncQueue", "ReconcileQueue"}
    for trigger in triggers:
        visibility = template.resources[trigger.queue]["Properties"]["VisibilityTimeout"]
        event = next(
            e["Properties"]
            for e in functions(template)[trigger.function]["Properties"]["Events"].values()
            if e["Type"] == "SQS" and e["Properties"]["Queue"] == {"Fn::GetAtt": [trigger.queue, "Arn"]}
        )
        needed = 6 * function_timeout(template, trigger.function) + worst_window(
            template, event.get("MaximumBatchingWindowInSeconds")
        )
        assert visibility >= needed, f"{trigger.queue}: {visibility} s < {needed} s for {trigger.function}"


def evaluate(template: Template, expr: Any, values: dict[str, str]) -> Any:
    """The few rule functions CloudFormation allows that the template's Rules use."""
    if isinstance(expr, dict) and len(expr) == 1:
        ((name, arg),) = expr.items()
        if name == "Ref":
            return values.get(arg, str(template.doc["Parameters"][arg].get("Default", "")))
        if name == "Fn::Equals":
            return evaluate(template, arg[0], values) == evaluate(template, arg[1], values)
        if name == "Fn::Not":
            return not evaluate(template, arg[0], values)
        if name == "Fn::And":
            return all(evaluate(template, a, values) for a in arg)
        if name == "Fn::Or":
            return any(evaluate(template, a, values) for a in arg)
        raise AssertionError(f"rule function {name} not modelled here")
    return expr


def rules_pass(template: Template, **values: str) -> bool:
    for rule in template.doc.get("Rules", {}).values():
        if "RuleCondition" in rule and not evaluate(template, rule["RuleCondition"], values):
            continue
        if not all(evaluate(template, a["Assert"], values) for a in rule["Assertions"]):
            return False
    return True


def test_a_vonage_deployment_cannot_be_created_without_its_signature_secret(template: Template) -> None:
    assert template.doc["Parameters"]["VonageSignatureSecretParameter"]["Default"] == ""
    assert rules_pass(template)  # the defaults (sandbox) deploy
    assert not rules_pass(template, Carrier="vonage")
    assert not rules_pass(template, Carrier="vonage", VonageSignatureSecretParameter="")
    assert rules_pass(template, Carrier="vonage", VonageSignatureSecretParameter="vonage-signature-secret")
    assert rules_pass(template, Carrier="twilio")
    assert not rules_pass(template, Carrier="smsru")  # SMS.ru signs nothing: its callback URL's secret
    assert rules_pass(template, Carrier="smsru", SmsruCallbackSecretParameter="smsru-callback-secret")
