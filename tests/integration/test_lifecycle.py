"""Issue #17, the lifecycle's smaller defects: a page session outlives neither an uninstall nor the
reinstall after it, and an uninstall with CLEAN leaves nothing of the portal's behind."""

from __future__ import annotations

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
