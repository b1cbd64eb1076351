"""Vonage's receipts and inbound SMS are verified with a signature secret, always (issue 17, defect 5):
the portal's own (a field on the page, a key of its credentials secret) or else the deployment's
(VONAGE_SIGNATURE_SECRET). A Vonage setup with neither is refused at save (page and CLI), and a
callback arriving where neither exists is refused: never silently taken unsigned."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import boto3
import pytest
import requests

from b24sms.adapters import config, store
from b24sms.domain.models import CarrierConfig
from b24sms.usecases import dispatch, portal_carriers
from local.fakes.vonage import VonageFake
from local.portal_emulator import EmulatedPortal, PortalEmulator
from local.stack import LocalStack
from tests.conftest import FINAL, final_status, wait_until
from tests.integration.test_app_page_api import call, session_of

DEPLOYMENT_SECRET = "deployment-vonage-signature-secret"


@pytest.fixture(scope="module")
def fake(stack: LocalStack) -> Iterator[VonageFake]:
    vonage = VonageFake(signature_method="sha256", receipts=False).start()
    yield vonage
    vonage.stop()


@pytest.fixture
def vonage(fake: VonageFake, monkeypatch: pytest.MonkeyPatch) -> Iterator[VonageFake]:
    """Vonage's API is the fake; the deployment has no Vonage signature secret unless a test sets one."""
    monkeypatch.setenv("VONAGE_API_BASE", fake.base_url)
    monkeypatch.delenv("VONAGE_SIGNATURE_SECRET", raising=False)
    monkeypatch.delenv("VONAGE_SIGNATURE_SECRET_PARAM", raising=False)
    monkeypatch.setenv("VONAGE_SIGNATURE_METHOD", "sha256")
    config.reset_settings()
    fake.signature_secret = ""
    yield fake
    monkeypatch.undo()
    config.reset_settings()
    dispatch._PORTALS.clear()


def sent(portal: EmulatedPortal, emulator: PortalEmulator, fake: VonageFake, number: str) -> tuple[str, str, str]:
    """An SMS through the portal's Vonage: (message id, our key, Vonage's id of its one segment)."""
    dispatch._PORTALS.clear()
    message_id, _ = emulator.send_sms(portal, number, "hello")
    key = f"{portal.member_id}.{message_id}"
    wait_until(lambda: any(s.params.get("client-ref") == key for s in fake.sent))
    wait_until(lambda: (m := store.messages.get_message(portal.member_id, message_id)) and m.dispatch_state == "sent")
    [segment] = next(s for s in fake.sent if s.params.get("client-ref") == key).part_ids
    return message_id, key, segment


def account(fake: VonageFake) -> dict[str, str]:
    """The page's Vonage fields: the account (key, secret) and a sender, no signature secret."""
    return {"carrier": "vonage", "api_key": fake.api_key, "api_secret": fake.api_secret, "sender": "Acme"}


def receipt(number: str, key: str, segment: str, status: str) -> dict[str, str]:
    return {"messageId": segment, "status": status, "client-ref": key, "msisdn": number.lstrip("+"), "err-code": "3"}


def test_a_page_vonage_without_its_own_secret_uses_the_deployments_and_refuses_unsigned_receipts(
    stack: LocalStack, emulator: PortalEmulator, portal: EmulatedPortal, vonage: VonageFake, monkeypatch: pytest.MonkeyPatch
):
    """The defect as found: Vonage set up on the page (key and secret only) took an unsigned receipt
    and moved the message to undelivered, although the deployment has a signature secret."""
    monkeypatch.setenv("VONAGE_SIGNATURE_SECRET", DEPLOYMENT_SECRET)
    config.reset_settings()
    token = session_of(emulator, portal)
    saved = call(stack, token, "carrier-save", **account(vonage))
    assert saved.status_code == 200, saved.text
    message_id, key, segment = sent(portal, emulator, vonage, "+15550200001")
    url = f"{stack.base_url}/carriers/vonage/status"

    before = store.messages.get_message(portal.member_id, message_id)
    unsigned = requests.post(url, json=receipt("+15550200001", key, segment, "failed"), timeout=10)
    assert unsigned.status_code == 403, unsigned.text
    stored = store.messages.get_message(portal.member_id, message_id)
    assert before and stored and stored.status not in FINAL and (stored.parts, stored.history) == (before.parts, before.history)

    vonage.signature_secret = DEPLOYMENT_SECRET  # the receipt Vonage signs with the account's secret is taken
    vonage.receipt(url, segment, "delivered", to="15550200001", client_ref=key)
    assert final_status(portal, message_id) == "delivered"


def test_a_page_vonage_with_neither_secret_is_refused_at_save_naming_the_field(
    stack: LocalStack, emulator: PortalEmulator, portal: EmulatedPortal, vonage: VonageFake
):
    token = session_of(emulator, portal)
    before = store.portals.get_portal(portal.member_id)
    refused = call(stack, token, "carrier-save", **account(vonage))
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "check_signature_secret" and "signature_secret" in refused.json()["error_description"]
    after = store.portals.get_portal(portal.member_id)
    assert before and after and after.carrier_config == before.carrier_config
    checked = call(stack, token, "carrier-check", **account(vonage))
    assert checked.status_code == 400 and "signature_secret" in checked.json()["error_description"]
    bad_method = call(
        stack, token, "carrier-save", carrier="vonage", api_key=vonage.api_key, api_secret=vonage.api_secret, sender="Acme",
        signature_secret="s" * 16, signature_method="crc32",
    )  # fmt: skip
    assert bad_method.status_code == 400, bad_method.text


def test_a_page_vonage_with_its_own_secret_verifies_with_it(
    stack: LocalStack, emulator: PortalEmulator, portal: EmulatedPortal, vonage: VonageFake
):
    own = secrets.token_hex(12)
    token = session_of(emulator, portal)
    saved = call(
        stack, token, "carrier-save", carrier="vonage", api_key=vonage.api_key, api_secret=vonage.api_secret, sender="Acme",
        signature_secret=own, signature_method="sha256",
    )  # fmt: skip
    assert saved.status_code == 200, saved.text
    record = store.portals.get_portal(portal.member_id)
    assert record and record.carrier
    stored = store.credentials.read_credentials(record.carrier.credentials)
    assert stored["signature_secret"] == own and stored["signature_method"] == "sha256"

    message_id, key, segment = sent(portal, emulator, vonage, "+15550200002")
    url = f"{stack.base_url}/carriers/vonage/status"
    assert requests.post(url, json=receipt("+15550200002", key, segment, "failed"), timeout=10).status_code == 403
    vonage.signature_secret = DEPLOYMENT_SECRET  # signed, but not with the portal's secret
    assert vonage.receipt(url, segment, "failed", to="15550200002", client_ref=key).status_code == 403
    vonage.signature_secret = own
    assert vonage.receipt(url, segment, "delivered", to="15550200002", client_ref=key).status_code == 200
    assert final_status(portal, message_id) == "delivered"

    # A later save that leaves the write-only fields empty keeps the stored secret.
    again = call(stack, token, "carrier-save", carrier="vonage", sender="Acme")
    assert again.status_code == 200, again.text


def put_secret(stack: LocalStack, name: str, value: dict[str, str]) -> str:
    client = boto3.client("secretsmanager", endpoint_url=stack.aws_endpoint, region_name="us-east-1")
    return str(client.create_secret(Name=name, SecretString=json.dumps(value))["ARN"])


def test_the_cli_refuses_a_vonage_setup_with_neither_secret(stack: LocalStack, portal: EmulatedPortal, vonage: VonageFake,
                                                          monkeypatch: pytest.MonkeyPatch):  # fmt: skip
    name = f"b24sms/{portal.name}-vonage-unsigned"
    put_secret(stack, name, {"api_key": vonage.api_key, "api_secret": vonage.api_secret})
    with pytest.raises(portal_carriers.InvalidCarrierConfig, match="signature_secret"):
        portal_carriers.configure(portal.member_id, CarrierConfig("vonage", "Acme", credentials=name))
    with pytest.raises(portal_carriers.InvalidCarrierConfig, match="signature_secret"):
        portal_carriers.configure(portal.member_id, CarrierConfig("vonage", "Acme"))  # the deployment's account
    record = store.portals.get_portal(portal.member_id)
    assert record and record.carrier_config == {}
    monkeypatch.setenv("VONAGE_SIGNATURE_SECRET", DEPLOYMENT_SECRET)  # with the deployment's, both are fine
    assert portal_carriers.configure(portal.member_id, CarrierConfig("vonage", "Acme", credentials=name))
    signed = f"b24sms/{portal.name}-vonage-signed"
    put_secret(stack, signed, {"api_key": vonage.api_key, "api_secret": vonage.api_secret, "signature_secret": "x" * 16})
    monkeypatch.delenv("VONAGE_SIGNATURE_SECRET")
    assert portal_carriers.configure(portal.member_id, CarrierConfig("vonage", "Acme", credentials=signed))
