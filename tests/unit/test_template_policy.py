"""What template.yaml grants and limits (issue #9): each function's role holds exactly what its code
path uses, per stage; the HTTP API is throttled and logs no secrets; the public functions' concurrency
is capped; the status batching window is a parameter the local stack honours.

The table below is the one to change with the code: a function that starts using a table operation,
queue, SSM parameter or secret fails here until its role (and this table) says so, and a grant nobody
uses fails here too. What a role grants is read as deployed: local/iam/policies.json, SAM's translation
of the template (inline statements and the managed policies SAM attaches; tests/unit/test_iam_policies.py
keeps it fresh), which is also what the local stack enforces."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from local.iam import gen
from local.template import Template

SSM = "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter"
SECRETS = "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${Prefix}*"
PUBLIC_URL = "ssm:/b24sms/${Stage}/public-base-url"
CLIENT_SECRET = "ssm:/b24sms/${Stage}/${BitrixClientSecretParameter}"
CARRIER_PARAMS = {
    "ssm:/b24sms/${Stage}/${SandboxSecretParameter}",
    "ssm:/b24sms/${Stage}/${TwilioAuthTokenParameter}",
    "ssm:/b24sms/${Stage}/${VonageApiSecretParameter}",
    "ssm:/b24sms/${Stage}/${VonageSignatureSecretParameter}",
}
SMSRU_API_ID = "ssm:/b24sms/${Stage}/${SmsruApiIdParameter}"
SMSRU_CALLBACK = "ssm:/b24sms/${Stage}/${SmsruCallbackSecretParameter}"
GET, PUT, UPDATE, DELETE = "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"
QUERY, SCAN, SEND, PARAM = "dynamodb:Query", "dynamodb:Scan", "sqs:SendMessage", "ssm:GetParameter"
DELAY = "sqs:ChangeMessageVisibility"  # queues.delay_redelivery: a deferred record comes back later
TOKEN_BUCKET = {("LimitsTable", GET), ("LimitsTable", PUT)}


def grants(*pairs: tuple[str, str], params: set[str] | frozenset[str] = frozenset()) -> set[tuple[str, str]]:
    return set(pairs) | {(p, PARAM) for p in params}


# function -> (resource, action): from functions/<name>/app.py and the layer modules each one calls.
EXPECTED: dict[str, set[tuple[str, str]]] = {
    "InstallFunction": grants(
        ("PortalsTable", GET), ("PortalsTable", PUT), ("PortalsTable", UPDATE), *TOKEN_BUCKET,
        params={PUBLIC_URL, CLIENT_SECRET},
    ),
    "EventsFunction": grants(
        ("PortalsTable", GET), ("PortalsTable", PUT), ("PortalsTable", UPDATE),
        ("MessagesTable", PUT), ("MessagesTable", QUERY), ("MessagesTable", "dynamodb:BatchWriteItem"),
        ("OutboundQueue", SEND), *TOKEN_BUCKET, ("ChatsTable", QUERY), ("ChatsTable", "dynamodb:BatchWriteItem"),
        ("secretsmanager", "secretsmanager:DeleteSecret"),
        params={PUBLIC_URL, CLIENT_SECRET},
    ),
    "HandlerFunction": grants(("PortalsTable", GET), ("MessagesTable", PUT), ("OutboundQueue", SEND)),
    "DispatchFunction": grants(
        ("MessagesTable", GET), ("MessagesTable", UPDATE), ("PortalsTable", GET), *TOKEN_BUCKET,
        ("PortalsTable", UPDATE),  # a carrier account's hold (store/holds.py)
        ("ChatsTable", GET), ("ChatsTable", PUT), ("ChatsTable", QUERY),
        ("StatusQueue", SEND), ("OutboundQueue", SEND), ("OutboundQueue", DELAY),
        ("secretsmanager", "secretsmanager:GetSecretValue"), ("sms-voice", "sms-voice:SendTextMessage"),
        # quiet hours (usecases/quiet.py): held messages, and one wake-up per portal and opening
        ("MessagesTable/index/by-quiet", QUERY), ("scheduler:quiet", "scheduler:CreateSchedule"),
        ("QuietWakeRole", "iam:PassRole"),
        params={PUBLIC_URL, SMSRU_API_ID} | CARRIER_PARAMS,
    ),
    "StatusFunction": grants(
        ("MessagesTable", GET), ("MessagesTable", UPDATE), ("MessagesTable/index/by-carrier-ref", QUERY),
        ("StatusQueue", SEND), ("secretsmanager", "secretsmanager:GetSecretValue"),
        ("PortalsTable", GET),  # a callback URL given to one portal (SMS.ru): its own account verifies it
        params={PUBLIC_URL, SMSRU_API_ID, SMSRU_CALLBACK} | CARRIER_PARAMS,
    ),
    "InboundFunction": grants(
        ("ChatsTable", GET), ("ChatsTable", PUT), ("ChatsTable", UPDATE), ("ChatsTable", DELETE), ("ChatsTable", QUERY),
        ("PortalsTable", GET), ("PortalsTable", UPDATE), *TOKEN_BUCKET,
        ("secretsmanager", "secretsmanager:GetSecretValue"),  # a portal's own account verifies SMS to its number
        ("StatusQueue", SEND),  # STOP/START: the CRM timeline entries are a portal job, its token wakes the push
        params={PUBLIC_URL, CLIENT_SECRET} | CARRIER_PARAMS,
    ),
    "ConnectorFunction": grants(("PortalsTable", GET), ("PortalsTable", UPDATE), ("ChatsTable", PUT), params={PUBLIC_URL}),
    "SmsEventsFunction": grants(
        ("MessagesTable", GET), ("MessagesTable", UPDATE), ("MessagesTable/index/by-carrier-ref", QUERY),
        ("StatusQueue", SEND),
        ("ChatsTable", GET), ("ChatsTable", PUT), ("ChatsTable", UPDATE), ("ChatsTable", DELETE), ("ChatsTable", QUERY),
        ("PortalsTable", GET), ("PortalsTable", UPDATE), *TOKEN_BUCKET,
        params={CLIENT_SECRET},
    ),
    "PushFunction": grants(
        ("MessagesTable", "dynamodb:BatchGetItem"), ("MessagesTable", UPDATE),
        ("MessagesTable/index/by-push-pending", QUERY), ("LimitsTable", UPDATE),
        ("PortalsTable", GET), ("PortalsTable", UPDATE), *TOKEN_BUCKET, ("StatusQueue", DELAY),
        ("ChatsTable", QUERY), ("ChatsTable", PUT), ("ChatsTable", UPDATE), ("ChatsTable", DELETE),  # portal jobs
        ("StatusQueue", SEND),  # portal tokens: coalescing's (status_queue.py), a failure's CRM entries
        params={CLIENT_SECRET},
    ),
    "RecoverFunction": grants(
        ("MessagesTable/index/by-pending", QUERY), ("MessagesTable/index/by-push-pending", SCAN),
        ("MessagesTable", UPDATE), ("OutboundQueue", SEND), ("StatusQueue", SEND),
    ),
    "AppFunction": grants(
        ("PortalsTable", GET), ("PortalsTable", UPDATE), *TOKEN_BUCKET,
        ("MessagesTable", GET), ("MessagesTable", PUT), ("MessagesTable", QUERY), ("MessagesTable", "dynamodb:BatchGetItem"),
        ("MessagesTable/index/by-portal-log", QUERY),
        ("MessagesTable/index/by-portal-created", QUERY),  # release N only: while by-portal-log backfills
        ("ChatsTable", PUT), ("ChatsTable", DELETE), ("ChatsTable", QUERY), ("OutboundQueue", SEND),
        ("StatusQueue", SEND),  # an opt-out by hand: its CRM timeline entries (a portal job) wake the push
        ("secretsmanager", "secretsmanager:GetSecretValue"), ("secretsmanager", "secretsmanager:CreateSecret"),
        ("secretsmanager", "secretsmanager:DeleteSecret"),
        ("sms-voice", "sms-voice:DescribePhoneNumbers"), ("sms-voice", "sms-voice:DescribeSenderIds"),
        ("sms-voice", "sms-voice:DescribePools"),
        params={PUBLIC_URL, CLIENT_SECRET, "ssm:/b24sms/${Stage}/${AppSessionSecretParameter}"},
    ),
    "ReconcileFunction": grants(
        ("MessagesTable/index/by-reconcile", QUERY), ("MessagesTable", UPDATE), ("ReconcileQueue", SEND),
    ),
    "ReconcileAccountFunction": grants(
        ("MessagesTable", GET), ("MessagesTable", UPDATE), ("StatusQueue", SEND),
        ("secretsmanager", "secretsmanager:GetSecretValue"),
        params={"ssm:/b24sms/${Stage}/${SandboxSecretParameter}", "ssm:/b24sms/${Stage}/${TwilioAuthTokenParameter}",
                SMSRU_API_ID},
    ),
    "SyncSendersFunction": grants(("PortalsTable", SCAN), ("SyncQueue", SEND)),
    "SyncPortalFunction": grants(
        ("PortalsTable", GET), ("PortalsTable", SCAN), ("PortalsTable", UPDATE), *TOKEN_BUCKET,
        ("SyncQueue", SEND), ("SyncQueue", "sqs:ChangeMessageVisibility"),
        params={PUBLIC_URL, CLIENT_SECRET},
    ),
}  # fmt: skip

# What Lambda itself needs, from the managed policies SAM attaches: logs for every function, and for the
# queue consumers the event source mapping's receive, delete and queue attributes.
BASIC, SQS_TRIGGER = "service-role/AWSLambdaBasicExecutionRole", "service-role/AWSLambdaSQSQueueExecutionRole"
LOGS = {("*", "logs:CreateLogGroup"), ("*", "logs:CreateLogStream"), ("*", "logs:PutLogEvents")}
POLLER = {("*", "sqs:ReceiveMessage"), ("*", "sqs:DeleteMessage"), ("*", "sqs:GetQueueAttributes")}
MANAGED = {function: [BASIC] for function in EXPECTED} | {
    "DispatchFunction": [BASIC, SQS_TRIGGER],
    "PushFunction": [BASIC, SQS_TRIGGER],
    "SyncPortalFunction": [BASIC, SQS_TRIGGER],
    "ReconcileAccountFunction": [BASIC, SQS_TRIGGER],
}
# What Lambda itself needs from statements SAM writes: an async-invoked function's dead letters go to
# its own DLQ (``DeadLetterQueue``), sent by the Lambda service, never by the code.
LAMBDA_SOURCES = {"DeadLetterQueuePolicy"}
DEAD_LETTERS = {"SmsEventsFunction": "SmsEventsDLQ", "RecoverFunction": "RecoverDLQ", "ReconcileFunction": "ReconcileSweepDLQ"}

PUBLIC = {
    "InstallFunction", "EventsFunction", "HandlerFunction", "StatusFunction", "InboundFunction", "ConnectorFunction",
    "AppFunction",
}  # fmt: skip


@pytest.fixture(scope="module")
def template() -> Template:
    return Template()


def unwrap_if(value: Any) -> Any:
    """The granted branch of ``!If [cond, grant, !Ref AWS::NoValue]``."""
    if isinstance(value, dict) and "Fn::If" in value:
        _, yes, no = value["Fn::If"]
        assert no == {"Ref": "AWS::NoValue"}, "a conditional grant must grant nothing otherwise"
        return yes
    return value


def resource_key(value: Any) -> str:
    value = unwrap_if(value)
    if value == "*":
        return "*"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        logical, attr = value["Fn::GetAtt"]
        assert attr == "Arn"
        return str(logical)
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        if isinstance(sub, list):
            assert sub[0] == SECRETS, sub
            return "secretsmanager"
        if sub.startswith(SSM):
            return "ssm:" + str(sub[len(SSM) :])
        if sub == "arn:${AWS::Partition}:sms-voice:${AWS::Region}:${AWS::AccountId}:*":
            return "sms-voice"
        if sub == "arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:schedule/b24sms-${Stage}-quiet/quiet-*":
            return "scheduler:quiet"  # this stage's group, the quiet hours' names only
        match = re.fullmatch(r"\$\{(\w+)\.Arn\}(/index/[\w-]+)", sub)
        assert match, f"unexpected resource {sub}"
        return match.group(1) + match.group(2)
    raise AssertionError(f"unexpected resource {value!r}")


def statements(template: Template, function: str) -> list[dict[str, Any]]:
    """The function's ``Policies`` statements as written in template.yaml."""
    found = []
    for policy in template.resources[function]["Properties"].get("Policies", []):
        assert isinstance(policy, dict) and set(policy) == {"Statement"}, (
            f"{function}: SAM policy templates grant more than the code uses; write a Statement"
        )
        found.extend(policy["Statement"])
    return found


@pytest.fixture(scope="module")
def deployed() -> dict[str, Any]:
    """Each function's role as SAM translates it (local/iam/policies.json)."""
    functions: dict[str, Any] = json.loads(gen.POLICIES.read_text())["functions"]
    return functions


def pairs_of(function: str, found: list[dict[str, Any]]) -> set[tuple[str, str]]:
    pairs = set()
    for statement in found:
        assert statement["Effect"] == "Allow"
        for action in statement["Action"]:
            assert "*" not in action, f"{function}: wildcard action {action}"
            pairs |= {(resource_key(r), action) for r in statement["Resource"]}
    return pairs


def granted(deployed: dict[str, Any], function: str, managed: bool = False) -> set[tuple[str, str]]:
    """(resource, action) the role grants: its own statements, or (``managed``) the managed policies'."""
    role = deployed[function]
    return pairs_of(
        function,
        [s for s in role["statements"] if (s["Source"] in role["managed"]) == managed and s["Source"] not in LAMBDA_SOURCES],
    )


def lambdas_own(deployed: dict[str, Any], function: str) -> set[tuple[str, str]]:
    """(resource, action) SAM grants for the Lambda service itself (the dead-letter queue)."""
    return pairs_of(function, [s for s in deployed[function]["statements"] if s["Source"] in LAMBDA_SOURCES])


def covers(pairs: set[tuple[str, str]], need: tuple[str, str]) -> bool:
    return need in pairs or ("*", need[1]) in pairs


def test_every_function_is_in_the_table(template: Template, deployed: dict[str, Any]) -> None:
    assert set(template.of_type("AWS::Serverless::Function")) == set(EXPECTED) == set(deployed)


def test_the_roles_are_read_as_sam_translates_them(template: Template, deployed: dict[str, Any]) -> None:
    for function in EXPECTED:
        assert len(statements(template, function)) == len(
            [
                s
                for s in deployed[function]["statements"]
                if s["Source"] not in deployed[function]["managed"] and s["Source"] not in LAMBDA_SOURCES
            ]
        ), f"{function}: local/iam/policies.json is stale (make iam-policies)"


@pytest.mark.parametrize("function", sorted(EXPECTED))
def test_lambda_may_send_only_an_async_functions_dead_letters_to_its_own_dlq(deployed: dict[str, Any], function: str) -> None:
    expected = {(DEAD_LETTERS[function], SEND)} if function in DEAD_LETTERS else set()
    assert lambdas_own(deployed, function) == expected


@pytest.mark.parametrize("function", sorted(EXPECTED))
def test_each_function_is_granted_exactly_what_its_code_uses(deployed: dict[str, Any], function: str) -> None:
    own, managed = granted(deployed, function), granted(deployed, function, managed=True)
    assert own - EXPECTED[function] == set(), "granted but not used"
    assert {need for need in EXPECTED[function] if not covers(own | managed, need)} == set(), "used but not granted"
    assert deployed[function]["managed"] == MANAGED[function], "a managed policy grants what Lambda does not need"
    lambda_needs = LOGS | (POLLER if SQS_TRIGGER in MANAGED[function] else set())
    assert managed == lambda_needs, "the managed policies' table (local/iam/managed.json) changed"


def test_ssm_grants_are_this_stages_parameters_the_code_is_told_about(template: Template, deployed: dict[str, Any]) -> None:
    env = template.doc["Globals"]["Function"]["Environment"]["Variables"]
    told = set()
    for name, value in env.items():
        if name.endswith("_PARAM"):
            value = value["Fn::If"][1] if "Fn::If" in value else value
            told.add("ssm:" + value["Fn::Sub"])
    assert template.resources["PublicBaseUrlParameter"]["Properties"]["Name"] == {"Fn::Sub": PUBLIC_URL[4:]}
    for function in EXPECTED:
        for key, action in granted(deployed, function):
            if action == PARAM:
                assert key.startswith("ssm:/b24sms/${Stage}/"), f"{function} may read {key}: not per stage"
                assert "*" not in key
                assert key in told, f"{function} may read {key}, which no *_PARAM names"


@pytest.mark.parametrize(
    "parameter",
    [
        "BitrixClientSecretParameter",
        "TwilioAuthTokenParameter",
        "VonageApiSecretParameter",
        "SandboxSecretParameter",
        "AppSessionSecretParameter",
    ],
)
def test_secret_parameter_names_cannot_leave_the_stage(template: Template, parameter: str) -> None:
    spec = template.doc["Parameters"][parameter]
    pattern = spec["AllowedPattern"]
    assert re.fullmatch(pattern, spec["Default"])
    for bad in ("", "/b24sms/bitrix-client-secret", "../prod/x", "*"):
        assert not re.fullmatch(pattern, bad), bad


def secrets_resource(template: Template, prefix: str) -> str:
    template.parameters["CarrierSecretsPrefix"] = prefix
    try:
        (statement,) = [s for s in statements(template, "DispatchFunction") if s["Action"] == "secretsmanager:GetSecretValue"]
        return str(template.resolve(statement["Resource"]))
    finally:
        template.parameters["CarrierSecretsPrefix"] = str(template.doc["Parameters"]["CarrierSecretsPrefix"]["Default"])


def test_an_empty_secrets_prefix_means_this_stages_prefix_never_every_secret(template: Template) -> None:
    assert template.doc["Parameters"]["CarrierSecretsPrefix"]["Default"] == ""
    assert secrets_resource(template, "") == "arn:aws:secretsmanager:us-east-1:123456789012:secret:b24sms/dev/*"
    assert secrets_resource(template, "acme/sms/") == "arn:aws:secretsmanager:us-east-1:123456789012:secret:acme/sms/*"
    pattern = template.doc["Parameters"]["CarrierSecretsPrefix"]["AllowedPattern"]
    for bad in ("/", "b24sms", "b24sms/*", "*", "a//"):
        assert not re.fullmatch(pattern, bad), bad
    assert re.fullmatch(pattern, "") and re.fullmatch(pattern, "b24sms/prod/")


def test_sms_sends_only_through_this_stages_tagged_resources(template: Template) -> None:
    (statement,) = [s for s in statements(template, "DispatchFunction") if s["Action"] == "sms-voice:SendTextMessage"]
    assert statement["Condition"] == {"StringEquals": {"aws:ResourceTag/b24sms-stage": {"Ref": "Stage"}}}
    tags = template.resources["SmsConfigurationSet"]["Properties"]["Tags"]
    assert {"Key": "b24sms-stage", "Value": {"Ref": "Stage"}} in tags


def test_the_http_api_is_throttled_by_parameters(template: Template) -> None:
    settings = template.resources["HttpApi"]["Properties"]["DefaultRouteSettings"]
    for key in ("ThrottlingRateLimit", "ThrottlingBurstLimit"):
        parameter = settings[key]["Ref"]
        assert int(template.doc["Parameters"][parameter]["Default"]) > 0


def test_the_access_log_is_json_without_query_strings_bodies_or_headers(template: Template) -> None:
    log = template.resources["HttpApi"]["Properties"]["AccessLogSettings"]
    assert log["DestinationArn"] == {"Fn::GetAtt": ["HttpApiAccessLogs", "Arn"]}
    retention = template.resources["HttpApiAccessLogs"]["Properties"]["RetentionInDays"]
    assert template.doc["Parameters"][retention["Ref"]]["Default"] > 0
    fields = json.loads(log["Format"])
    assert fields["requestId"] == "$context.requestId"
    assert fields["route"] == "$context.routeKey"  # the route's template, not the path the caller sent
    for name, variable in fields.items():
        assert re.fullmatch(r"\$context\.[\w.]+", variable), name
        # The HANDLER URL's query carries the portal's key; bodies carry phone numbers and text.
        for unsafe in ("path", "querystring", "query", "header", "body", "authorizer"):
            assert unsafe not in variable.lower(), f"{name}: {variable}"


def test_public_functions_have_reserved_concurrency_zero_means_none(template: Template) -> None:
    routed = {route.function for route in template.routes()}
    assert routed == PUBLIC
    total = 0
    for function in sorted(PUBLIC):
        setting = template.resources[function]["Properties"]["ReservedConcurrentExecutions"]
        condition, value, none = setting["Fn::If"]
        parameter = value["Ref"]
        assert none == {"Ref": "AWS::NoValue"}
        default = template.doc["Parameters"][parameter]["Default"]
        assert default > 0
        total += default
        assert template.resolve(setting) == str(default)
        template.parameters[parameter] = "0"
        try:
            assert template.resolve(setting) == "", f"{function}: {parameter}=0 must reserve nothing"
            assert not template.condition(condition)
        finally:
            template.parameters[parameter] = str(default)
    # Lambda keeps at least 100 of an account's (default 1000) concurrency unreserved: the rest is the
    # queue consumers' and everyone else's.
    assert total <= 300


def test_queue_consumers_are_not_capped_by_a_reservation(template: Template) -> None:
    consumers = {trigger.function for trigger in template.queue_triggers()}
    assert consumers == {"DispatchFunction", "PushFunction", "SyncPortalFunction", "ReconcileAccountFunction"}
    for function in consumers:
        assert "ReservedConcurrentExecutions" not in template.resources[function]["Properties"]


def test_the_status_batching_window_is_a_parameter_the_local_stack_honours(template: Template) -> None:
    event = template.resources["PushFunction"]["Properties"]["Events"]["Statuses"]["Properties"]
    assert event["MaximumBatchingWindowInSeconds"] == {"Ref": "StatusBatchWindow"}
    spec = template.doc["Parameters"]["StatusBatchWindow"]
    assert event["BatchSize"] > 10 and spec["MinValue"] >= 1  # Lambda wants a window with batches over 10
    (push,) = [t for t in template.queue_triggers() if t.function == "PushFunction"]
    assert push.window == float(spec["Default"])
    template.parameters["StatusBatchWindow"] = "7"
    try:
        (push,) = [t for t in template.queue_triggers() if t.function == "PushFunction"]
        assert push.window == 7.0
    finally:
        template.parameters["StatusBatchWindow"] = str(spec["Default"])
