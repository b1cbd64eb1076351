"""Issue #17, the lifecycle's smaller defects: a page session outlives neither an uninstall nor the
reinstall after it, and an uninstall with CLEAN leaves nothing of the portal's behind."""

from __future__ import annotations

import json
import secrets
from typing import Any

from b24sms.adapters import store
from b24sms.adapters.store.jobs import Job
from b24sms.domain.models import CarrierConfig
from b24sms.usecases import portal_carriers
from local.portal_emulator import EmulatedPortal, PortalEmulator
from local.stack import LocalStack
from tests.integration.test_app_page_api import call, session_of


def test_a_session_from_before_an_uninstall_is_dead_after_the_reinstall(
    portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack
):
    old = session_of(emulator, portal)
    assert call(stack, old, "optout-add", phone="+15550107001").status_code == 200
    assert emulator.uninstall(portal) is not None
    assert call(stack, old, "optout-add", phone="+15550107002").status_code == 403  # uninstalled: nothing
    assert emulator.install(portal, f"{stack.base_url}/bitrix/install").status_code == 200

    refused = call(stack, old, "optout-add", phone="+15550107003")
    assert refused.status_code == 401, refused.text  # before the fix: 200, the old admin's session again
    assert refused.json()["error"] == "bad_session"
    fresh = session_of(emulator, portal)
    assert call(stack, fresh, "optout-add", phone="+15550107004").status_code == 200
    # A re-install over an installed portal (no uninstall between) keeps the sessions it had.
    assert emulator.install(portal, f"{stack.base_url}/bitrix/install", via="event").status_code == 200
    assert call(stack, fresh, "optout-add", phone="+15550107005").status_code == 200


def _portal_data(member_id: str, number: str) -> dict[str, str]:
    """A portal with what CLEAN must erase: carrier credentials saved on the page (for its main sender),
    an operator's secret named for an added sender (not ours to delete), opt-outs, an audit line, a route."""
    ours = store.credentials.put_credentials(member_id, "b24sms", {"account_sid": "AC" + "1" * 32, "auth_token": "t" * 32})
    operators = f"ops-shared-{secrets.token_hex(4)}"
    _secretsmanager().create_secret(Name=operators, SecretString=json.dumps({"auth_token": "o" * 32}))
    assert portal_carriers.configure(member_id, CarrierConfig("twilio", number, "", ours), check_secret=False)
    assert store.portals.save_senders(member_id, {"b24sms_2": {"name": "Ops", "carrier": "twilio", "credentials": operators}})
    store.chats.opt_out(member_id, "+15550108001", "page")
    store.chats.opt_out(member_id, "+15550108002", "twilio:STOP")
    store.audit.record_audit(member_id, "1", "opt-out added", {"phone": "+1555…8001"})
    store.chats.remember_route(number, member_id)
    return {"ours": ours, "operators": operators}


def _secret_exists(name: str) -> bool:
    try:
        _secretsmanager().get_secret_value(SecretId=name)
    except _secretsmanager().exceptions.ResourceNotFoundException:
        return False
    except _secretsmanager().exceptions.InvalidRequestException:  # scheduled for deletion
        return False
    return True


def _secretsmanager() -> Any:
    import boto3

    return boto3.client("secretsmanager")


def test_uninstall_with_clean_erases_credentials_opt_outs_audit_and_route(
    portal: EmulatedPortal, emulator: PortalEmulator, stack: LocalStack
):
    names = _portal_data(portal.member_id, "+14155550123")
    bystander = emulator.add_portal()
    assert emulator.install(bystander, f"{stack.base_url}/bitrix/install").status_code == 200
    store.chats.opt_out(bystander.member_id, "+15550108001", "page")
    store.chats.remember_route("+14155550123", bystander.member_id)
    job = Job("optout#x#1", [("crm.duplicate.findbycomm", {"type": "PHONE", "values": ["+14155550123"]})])
    assert store.jobs.add(portal.member_id, job)  # a CRM job still owed: it holds the number too

    response = emulator.uninstall(portal, clean=True)
    assert response is not None and response.status_code == 200, response and response.text

    assert store.chats.opt_outs(portal.member_id) == []  # before the fix: both full numbers were kept
    assert store.audit.audit_log(portal.member_id) == []
    assert store.jobs.pending(portal.member_id, 10) == []
    assert not _secret_exists(names["ours"])
    assert _secret_exists(names["operators"])  # not under the portal's prefix: an operator's, kept
    assert store.chats.route_portals("+14155550123") == [bystander.member_id]
    assert [o["phone"] for o in store.chats.opt_outs(bystander.member_id)] == ["+15550108001"]  # others untouched


def test_uninstall_without_clean_keeps_the_data_and_schedules_the_orphaned_credentials(
    portal: EmulatedPortal, emulator: PortalEmulator
):
    names = _portal_data(portal.member_id, "+12025550187")
    response = emulator.uninstall(portal, clean=False)
    assert response is not None and response.status_code == 200
    assert len(store.chats.opt_outs(portal.member_id)) == 2 and len(store.audit.audit_log(portal.member_id)) == 1
    assert store.chats.route_portals("+12025550187") == [portal.member_id]
    # The tombstone names no credentials any more: ours are scheduled for deletion (recoverable for 7 days).
    assert "DeletedDate" in _secretsmanager().describe_secret(SecretId=names["ours"])
    assert _secret_exists(names["operators"])
