"""A portal with its own carrier account: credentials in Secrets Manager (moto), only their name stored
with the portal; sends and signed callbacks use that account while other portals keep the deployment's
default, and switching back needs no redeploy."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import boto3
import pytest

from b24sms.adapters import store
from b24sms.domain.models import CarrierConfig
from b24sms.usecases import dispatch, portal_carriers
from local.fakes.vonage import VonageFake
from local.portal_emulator import EmulatedPortal, PortalEmulator
from local.stack import LocalStack
from tests.conftest import final_status


@pytest.fixture(scope="module")
def vonage(stack: LocalStack) -> Iterator[VonageFake]:
    fake = VonageFake(signature_secret=secrets.token_hex(8), signature_method="sha512").start()
    yield fake
    fake.stop()


@pytest.fixture
def vonage_env(vonage: VonageFake, monkeypatch: pytest.MonkeyPatch) -> Iterator[VonageFake]:
    monkeypatch.setenv("VONAGE_API_BASE", vonage.base_url)
    yield vonage
    monkeypatch.undo()


def put_secret(stack: LocalStack, name: str, value: dict[str, str]) -> str:
    client = boto3.client("secretsmanager", endpoint_url=stack.aws_endpoint, region_name="us-east-1")
    return str(client.create_secret(Name=name, SecretString=json.dumps(value))["ARN"])


def test_a_portal_sends_through_its_own_account(
    portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack, vonage_env: VonageFake
):
    name = f"b24sms/{stack.template.parameters['Stage']}/{portal.name}-vonage"  # the stage's prefix: dispatch may read only that
    put_secret(
        stack,
        name,
        {
            "api_key": vonage_env.api_key,
            "api_secret": vonage_env.api_secret,
            "signature_secret": vonage_env.signature_secret,
            "signature_method": "sha512",
        },
    )
    saved = portal_carriers.configure(portal.member_id, CarrierConfig("vonage", "AcmeInc", "ru", name))
    assert saved == CarrierConfig("vonage", "AcmeInc", "RU", name)
    record = store.portals.get_portal(portal.member_id)
    assert record and record.carrier_config == {
        "carrier": "vonage",
        "sender": "AcmeInc",
        "default_country": "RU",
        "credentials": name,
    }
    assert vonage_env.api_secret not in json.dumps(record.to_item())  # only the reference is stored

    # A national number, read with the portal's country; receipts verified with the portal's secret.
    message_id, _ = emulator.send_sms(portal, "8 (999) 123-45-67", "Через ваш аккаунт")
    assert final_status(portal, message_id) == "delivered"
    (sent,) = [s for s in vonage_env.sent if s.params["client-ref"] == f"{portal.member_id}.{message_id}"]
    assert sent.to == "79991234567" and sent.params["from"] == "AcmeInc"

    # Another portal is untouched: the deployment's default (the sandbox) still sends for it.
    other = emulator.add_portal()
    emulator.install(other, f"{stack.base_url}/bitrix/install")
    other_id, _ = emulator.send_sms(other, "+15550140001", "default carrier")
    assert final_status(other, other_id) == "delivered"
    assert not [s for s in vonage_env.sent if s.params["client-ref"].startswith(other.member_id)]

    # Back to the default, no redeploy: the next message goes through the sandbox (a warm dispatcher
    # reads the portal again within dispatch.PORTAL_CACHE_SECONDS; here its cache is emptied at once).
    portal_carriers.configure(portal.member_id, None)
    dispatch._PORTALS.clear()
    before = len(vonage_env.sent)
    again, _ = emulator.send_sms(portal, "+15550140002", "default again")
    assert final_status(portal, again) == "delivered"
    assert len(vonage_env.sent) == before
    # A receipt for the message sent through the portal's account still verifies with that account.
    url = f"{stack.base_url}/carriers/vonage/status"
    late = vonage_env.receipt(url, sent.part_ids[0], "delivered", to=sent.to, client_ref=sent.params["client-ref"])
    assert late.status_code == 200 and late.json() == {"result": ["stale"]}


def test_a_reinstall_keeps_the_portals_carrier(portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack):
    portal_carriers.configure(portal.member_id, CarrierConfig("sandbox", default_country="DE"), check_secret=False)
    emulator.install(portal, f"{stack.base_url}/bitrix/install")
    record = store.portals.get_portal(portal.member_id)
    assert record and record.carrier == CarrierConfig("sandbox", default_country="DE")


@pytest.mark.parametrize(
    ("config", "error"),
    [
        (CarrierConfig("nosuchcarrier"), "unknown carrier"),
        (CarrierConfig("twilio", default_country="XX"), "not an ISO country"),
        (CarrierConfig("twilio", credentials='{"account_sid": "AC1", "auth_token": "t"}'), "never the credentials"),
        (CarrierConfig("aws", credentials="b24sms/x"), "IAM role"),
        (CarrierConfig("twilio", credentials="b24sms/does-not-exist"), "cannot read secret"),
    ],
)
def test_bad_configurations_are_refused_with_a_reason(portal: EmulatedPortal, config: CarrierConfig, error: str):
    with pytest.raises(portal_carriers.InvalidCarrierConfig, match=error):
        portal_carriers.configure(portal.member_id, config)
    record = store.portals.get_portal(portal.member_id)
    assert record and record.carrier_config == {}


def test_a_secret_without_the_carriers_keys_is_refused(portal: EmulatedPortal, stack: LocalStack):
    name = f"b24sms/{stack.template.parameters['Stage']}/{portal.name}-incomplete"
    put_secret(stack, name, {"account_sid": "AC123"})
    with pytest.raises(portal_carriers.InvalidCarrierConfig, match="lacks auth_token"):
        portal_carriers.configure(portal.member_id, CarrierConfig("twilio", "+15005550006", credentials=name))


def test_an_unknown_portal_cannot_be_configured(stack: LocalStack):
    with pytest.raises(LookupError):
        portal_carriers.configure("no-such-portal", CarrierConfig("sandbox"), check_secret=False)
