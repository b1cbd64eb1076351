"""The page's test-status route reads only the page's own test SMS (ids ``test-…``), never a CRM
message of the portal, whatever id a page user sends (issue #17: a guard no test caught)."""

from __future__ import annotations

from b24sms.adapters import store
from local.portal_emulator import EmulatedPortal, PortalEmulator
from local.stack import LocalStack
from tests.integration.test_app_page_api import call, final_message, session_of


def test_the_test_status_route_reads_only_test_messages(stack: LocalStack, emulator: PortalEmulator, portal: EmulatedPortal):
    token = session_of(emulator, portal)
    final_message(portal.member_id, "crm-message-1", "delivered")
    final_message(portal.member_id, "test-0123456789abcdef", "delivered")
    try:
        test = call(stack, token, "test-status", message_id="test-0123456789abcdef")
        assert test.status_code == 200 and test.json()["status"] == "delivered", test.text
        crm = call(stack, token, "test-status", message_id="crm-message-1")
        assert crm.status_code == 404, crm.text
        assert "delivered" not in crm.text
    finally:
        store.messages.delete_portal_messages(portal.member_id)
