"""The local stack enforces each function's deployed permissions (local/iam/): the policies file is what
SAM's translator makes of template.yaml, and the check refuses, as AWS does, what no statement allows."""

from __future__ import annotations

import json
import subprocess
import threading
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from local.iam import enforce, gen
from local.template import ACCOUNT, REGION, ROOT, Template

SAM_PYTHON = ROOT / ".venv-sam" / "bin" / "python"
needs_sam = pytest.mark.skipif(
    not SAM_PYTHON.exists(), reason="no .venv-sam (make sam-venv): SAM's translator regenerates local/iam/policies.json"
)


def run_generator(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SAM_PYTHON), "-m", "local.iam.gen", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


@needs_sam
def test_the_policies_file_is_what_the_template_translates_to():
    done = run_generator("--stdout")
    assert done.returncode == 0, done.stderr
    assert done.stdout == gen.POLICIES.read_text(), "local/iam/policies.json is stale: run `make iam-policies`"


@needs_sam
def test_every_managed_policy_sam_attaches_is_in_the_table_also_with_tracing_on():
    done = run_generator("--stdout", "Tracing=Active")
    assert done.returncode == 0, done.stderr
    functions = json.loads(done.stdout)["functions"]
    assert all("AWSXrayWriteOnlyAccess" in f["managed"] for f in functions.values())


def local_template() -> Template:
    """The template with the local stack's physical names, as LocalStack._create_resources sets them."""
    template = Template()
    for logical in template.of_type("AWS::DynamoDB::Table"):
        name = f"{logical}-local"
        template.physical[logical] = {"Ref": name, "Arn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"}
    for logical in template.of_type("AWS::SQS::Queue"):
        name = f"{logical}-local"
        url = f"http://127.0.0.1:5000/{ACCOUNT}/{name}"
        template.physical[logical] = {"Ref": url, "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}", "QueueName": name}
    return template


@pytest.fixture(scope="module")
def template() -> Template:
    return local_template()


@pytest.fixture(scope="module")
def enforcer(template: Template) -> enforce.Enforcer:
    enforce.install()
    return enforce.Enforcer.from_policies(template.resolve, ACCOUNT)


def stubbed(service: str) -> tuple[Any, Stubber]:
    """A client whose calls, once past the check, are answered by a Stubber (nothing leaves the process)."""
    client = boto3.client(
        service, region_name=REGION, endpoint_url="http://127.0.0.1:9", aws_access_key_id="x", aws_secret_access_key="x"
    )
    return client, Stubber(client)


def test_a_call_its_role_allows_goes_through(enforcer: enforce.Enforcer, template: Template):
    client, stub = stubbed("dynamodb")
    stub.add_response("get_item", {})
    with stub, enforcer.acting_as("HandlerFunction"):
        client.get_item(TableName=template.physical["PortalsTable"]["Ref"], Key={"member_id": {"S": "m"}})
    portals = template.physical["PortalsTable"]["Arn"]
    assert enforce.Call("HandlerFunction", "dynamodb:GetItem", portals, True) in enforcer.seen("HandlerFunction")


def test_a_call_its_role_does_not_allow_is_refused_as_aws_refuses_it_before_it_is_sent(
    enforcer: enforce.Enforcer, template: Template
):
    client, stub = stubbed("dynamodb")
    with stub, enforcer.acting_as("HandlerFunction"), pytest.raises(ClientError) as refused:
        client.update_item(TableName=template.physical["PortalsTable"]["Ref"], Key={"member_id": {"S": "m"}})
    error = refused.value.response
    assert error["Error"]["Code"] == "AccessDeniedException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "HandlerFunction" in error["Error"]["Message"] and "dynamodb:UpdateItem" in error["Error"]["Message"]
    assert enforce.Call("HandlerFunction", "dynamodb:UpdateItem", template.physical["PortalsTable"]["Arn"], False) in (
        enforcer.denied()
    )
    stub.assert_no_pending_responses()  # and nothing reached the (stubbed) service


def test_an_index_is_a_resource_of_its_own(enforcer: enforce.Enforcer, template: Template):
    client, stub = stubbed("dynamodb")
    table = template.physical["MessagesTable"]["Ref"]
    stub.add_response("query", {"Items": []})
    values: dict[str, Any] = {"ExpressionAttributeValues": {":r": {"S": "x"}}}
    with stub, enforcer.acting_as("StatusFunction"):
        client.query(TableName=table, IndexName="by-carrier-ref", KeyConditionExpression="carrier_ref = :r", **values)
        with pytest.raises(ClientError):  # the status route may query that index, not the table
            client.query(TableName=table, KeyConditionExpression="carrier_ref = :r", **values)


def test_sqs_refuses_with_its_own_code_and_batches_need_the_single_action(enforcer: enforce.Enforcer, template: Template):
    client, stub = stubbed("sqs")
    outbound = template.physical["OutboundQueue"]["Ref"]
    with stub, enforcer.acting_as("HandlerFunction"), pytest.raises(ClientError) as refused:
        client.send_message_batch(QueueUrl=template.physical["StatusQueue"]["Ref"], Entries=[{"Id": "1", "MessageBody": "x"}])
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    stub.add_response("send_message_batch", {"Successful": [], "Failed": []})
    with stub, enforcer.acting_as("HandlerFunction"):
        client.send_message_batch(QueueUrl=outbound, Entries=[{"Id": "1", "MessageBody": "x"}])
    assert enforcer.count("HandlerFunction", "sqs:SendMessage") >= 1


@pytest.mark.parametrize(("function", "queue"), [("PushFunction", "StatusQueue"), ("DispatchFunction", "OutboundQueue")])
def test_a_queue_consumer_may_delay_redelivery_of_its_own_queue_only(
    enforcer: enforce.Enforcer, template: Template, function: str, queue: str
):
    """Defect 1: queues.delay_redelivery (sqs:ChangeMessageVisibility) was granted to neither consumer."""
    client, stub = stubbed("sqs")
    other = "OutboundQueue" if queue == "StatusQueue" else "StatusQueue"
    stub.add_response("change_message_visibility", {})
    with stub, enforcer.acting_as(function):
        client.change_message_visibility(QueueUrl=template.physical[queue]["Ref"], ReceiptHandle="r", VisibilityTimeout=5)
        with pytest.raises(ClientError):
            client.change_message_visibility(QueueUrl=template.physical[other]["Ref"], ReceiptHandle="r", VisibilityTimeout=5)


def test_ssm_parameters_and_secrets_are_named_by_their_arns(enforcer: enforce.Enforcer):
    arn = f"arn:aws:ssm:{REGION}:{ACCOUNT}"
    assert enforce.resources_of("ssm", "GetParameter", {"Name": "/b24sms/dev/x"}, REGION, ACCOUNT) == [
        f"{arn}:parameter/b24sms/dev/x"
    ]
    client, stub = stubbed("secretsmanager")
    stub.add_response("get_secret_value", {"SecretString": "{}"})
    with stub, enforcer.acting_as("DispatchFunction"):
        client.get_secret_value(SecretId="b24sms/dev/portal-1")  # under the stage's prefix
        with pytest.raises(ClientError):
            client.get_secret_value(SecretId="someone-elses/secret")


def test_calls_outside_a_function_are_not_checked_nor_recorded(enforcer: enforce.Enforcer, template: Template):
    client, stub = stubbed("dynamodb")
    stub.add_response("delete_table", {})
    before = sum(enforcer.calls.values())
    with stub:
        client.delete_table(TableName=template.physical["PortalsTable"]["Ref"])
    assert sum(enforcer.calls.values()) == before


def test_a_thread_is_the_functions_only_in_a_copy_of_its_context(enforcer: enforce.Enforcer, template: Template):
    client, stub = stubbed("dynamodb")
    stub.add_response("delete_table", {})
    outcomes: list[str] = []

    def drop_table() -> None:
        try:
            client.delete_table(TableName=template.physical["PortalsTable"]["Ref"])
            outcomes.append("sent")
        except ClientError as exc:
            outcomes.append(exc.response["Error"]["Code"])

    with stub, enforcer.acting_as("HandlerFunction"):
        copied = threading.Thread(target=enforce.Enforcer.run_as(drop_table))
        copied.start()
        copied.join()
        bare = threading.Thread(target=drop_table)  # a thread of its own: no current function
        bare.start()
        bare.join()
    assert outcomes == ["AccessDeniedException", "sent"]


def test_a_refusal_is_said_once_on_stderr_and_reported(
    enforcer: enforce.Enforcer, template: Template, capsys: pytest.CaptureFixture[str]
):
    client, stub = stubbed("dynamodb")
    for _ in range(2):
        with stub, enforcer.acting_as("RecoverFunction"), pytest.raises(ClientError):
            client.scan(TableName=template.physical["ChatsTable"]["Ref"])
    assert capsys.readouterr().err.count("IAM: RecoverFunction may not dynamodb:Scan on ") == 1
    (denial,) = [d for d in enforcer.report()["denied"] if d["function"] == "RecoverFunction"]
    assert denial["action"] == "dynamodb:Scan" and denial["count"] == 2


def test_each_function_has_powertools_parameter_providers_of_its_own(enforcer: enforce.Enforcer):
    """As each Lambda function has its own process: a secret cached by one is not served to another."""
    from aws_lambda_powertools.utilities.parameters import secrets, ssm

    providers = vars(secrets)["DEFAULT_PROVIDERS"]  # the name get_secret uses
    assert isinstance(providers, enforce.PerFunctionProviders)
    assert vars(ssm)["DEFAULT_PROVIDERS"] is providers
    providers.clear()  # what functions run earlier in this process (the integration tier) cached
    with enforcer.acting_as("AppFunction"):
        providers["secrets"] = provider = object()
        assert "secrets" in providers and providers["secrets"] is provider
    with enforcer.acting_as("DispatchFunction"):
        assert "secrets" not in providers
    assert "secrets" not in providers  # nor outside any function
    providers.clear()


def test_record_mode_records_a_refusal_without_raising(template: Template):
    recorder = enforce.Enforcer.from_policies(template.resolve, ACCOUNT, enforce=False)
    enforce.install()
    client, stub = stubbed("dynamodb")
    stub.add_response("delete_table", {})
    with stub, recorder.acting_as("HandlerFunction"):
        client.delete_table(TableName="PortalsTable-local")
    assert [c.action for c in recorder.denied()] == ["dynamodb:DeleteTable"]


def test_every_resource_template_resolves_to_an_arn(enforcer: enforce.Enforcer):
    for function, statements in enforcer.statements.items():
        for statement in statements:
            for resource in statement.resources:
                assert resource == "*" or resource.startswith("arn:aws:"), (function, statement.source, resource)
                assert "Arn" not in resource and "${" not in resource, (function, resource)
