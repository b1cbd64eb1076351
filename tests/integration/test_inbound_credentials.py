"""An inbound SMS webhook is verified with the credentials of the account that owns the number it was
sent to: a portal with its own Twilio or Vonage account gets its customers' replies (signed with its
own auth token / signature secret), the deployment's number keeps the deployment's credentials, and
one account's signature never posts into another portal's chat."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest

from b24sms.adapters import config
from b24sms.domain.models import CarrierConfig
from b24sms.usecases import portal_carriers
from local.fakes.twilio import TwilioFake
from local.fakes.vonage import VonageFake
from local.portal_emulator import EmulatedPortal, PortalEmulator
from local.stack import LocalStack
from tests.integration.test_openlines import CONNECTOR, connected, texted

DEPLOYMENT_NUMBER = "+15005550006"


@dataclass
class Accounts:
    deployment: TwilioFake  # the deployment's own Twilio account
    own: TwilioFake  # a portal's own Twilio account
    vonage: VonageFake  # a portal's own Vonage account


@pytest.fixture(scope="module")
def fakes() -> Iterator[Accounts]:
    vonage = VonageFake(signature_secret=secrets.token_hex(8), signature_method="sha512")
    started = Accounts(TwilioFake().start(), TwilioFake().start(), vonage.start())
    yield started
    for fake in (started.deployment, started.own, started.vonage):
        fake.stop()


@pytest.fixture
def deployment(fakes: Accounts, stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[TwilioFake]:
    fake = fakes.deployment
    monkeypatch.setenv("CARRIER", "twilio")
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", fake.account_sid)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", fake.auth_token)
    monkeypatch.setenv("TWILIO_FROM", DEPLOYMENT_NUMBER)
    monkeypatch.setenv("TWILIO_API_BASE", fake.base_url)
    monkeypatch.setenv("VONAGE_API_BASE", fakes.vonage.base_url)
    monkeypatch.delenv("VONAGE_SIGNATURE_SECRET", raising=False)
    monkeypatch.delenv("VONAGE_SIGNATURE_SECRET_PARAM", raising=False)
    config.reset_settings()
    yield fake
    monkeypatch.undo()
    config.reset_settings()


def own_number() -> str:
    return "+1500555" + f"{secrets.randbelow(10_000):04d}"


def put_secret(stack: LocalStack, name: str, value: dict[str, str]) -> str:
    client = boto3.client("secretsmanager", endpoint_url=stack.aws_endpoint, region_name="us-east-1")
    client.create_secret(Name=name, SecretString=json.dumps(value))
    return name


def with_own_twilio(stack: LocalStack, portal: EmulatedPortal, fake: TwilioFake, number: str) -> None:
    name = put_secret(
        stack, f"b24sms/dev/{portal.name}-own-twilio", {"account_sid": fake.account_sid, "auth_token": fake.auth_token}
    )
    portal_carriers.configure(portal.member_id, CarrierConfig("twilio", number, credentials=name))


def test_a_reply_to_a_portals_own_twilio_number_is_verified_with_its_token(
    portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack, deployment: TwilioFake, fakes: Accounts
):
    own, number = fakes.own, own_number()
    with_own_twilio(stack, portal, own, number)
    connected(emulator, portal)
    url = f"{stack.base_url}/carriers/twilio/inbound"
    answer = own.inbound(url, "+15550210001", number, "Signed with the portal's own token")
    assert answer.status_code == 200, answer.text
    chat = emulator.chat_for(portal, CONNECTOR, "1", "15550210001")
    assert chat is not None and chat.texts() == ["Signed with the portal's own token"]

    # Signed by another account (the deployment's, which does not own this number): refused.
    forged = deployment.inbound(url, "+15550210001", number, "not from the portal's account")
    assert forged.status_code == 403, forged.text
    assert chat.texts() == ["Signed with the portal's own token"]


def test_a_portals_account_cannot_post_to_the_deployments_number(
    portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack, deployment: TwilioFake, fakes: Accounts
):
    """The portal's own token verifies only SMS to its own number: to the deployment's number (routed
    to whichever portal last texted the customer), only the deployment's token does."""
    other = emulator.add_portal()
    assert emulator.install(other, f"{stack.base_url}/bitrix/install").status_code == 200
    connected(emulator, other)
    customer = "+15550210002"
    texted(emulator, other, customer)  # through the deployment's account: the customer's replies are the other portal's
    with_own_twilio(stack, portal, fakes.own, own_number())
    url = f"{stack.base_url}/carriers/twilio/inbound"
    refused = fakes.own.inbound(url, customer, DEPLOYMENT_NUMBER, "injected by another portal's account")
    assert refused.status_code == 403, refused.text
    assert emulator.chat_for(other, CONNECTOR, "1", "15550210002") is None

    answer = deployment.inbound(url, customer, DEPLOYMENT_NUMBER, "Signed with the deployment's token")
    assert answer.status_code == 200, answer.text
    chat = emulator.chat_for(other, CONNECTOR, "1", "15550210002")
    assert chat is not None and chat.texts() == ["Signed with the deployment's token"]


def test_a_reply_to_a_portals_own_vonage_number_is_verified_with_its_signature_secret(
    portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack, deployment: TwilioFake, fakes: Accounts
):
    vonage, number = fakes.vonage, own_number()
    name = put_secret(
        stack,
        f"b24sms/dev/{portal.name}-own-vonage",
        {
            "api_key": vonage.api_key,
            "api_secret": vonage.api_secret,
            "signature_secret": vonage.signature_secret,
            "signature_method": vonage.signature_method,
        },
    )
    portal_carriers.configure(portal.member_id, CarrierConfig("vonage", number, credentials=name))
    connected(emulator, portal)
    url = f"{stack.base_url}/carriers/vonage/inbound"
    answer = vonage.inbound(url, "15550210003", number.lstrip("+"), "Signed with the portal's Vonage secret")
    assert answer.status_code == 200, answer.text
    chat = emulator.chat_for(portal, CONNECTOR, "1", "15550210003")
    assert chat is not None and chat.texts() == ["Signed with the portal's Vonage secret"]
