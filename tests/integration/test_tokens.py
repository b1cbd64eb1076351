"""Token refresh when several functions hit expired_token at once: one refresh, everyone proceeds."""

from __future__ import annotations

import threading

from b24sms.adapters import store
from b24sms.adapters.bitrix.tokens import client_for
from local.portal_emulator import EmulatedPortal, PortalEmulator


def test_the_refresh_lock_of_a_version_is_taken_once(portal: EmulatedPortal):
    version = store.portals.get_portal(portal.member_id).token_version  # type: ignore[union-attr]
    assert store.portals.try_lock_refresh(portal.member_id, version, 30)
    assert not store.portals.try_lock_refresh(portal.member_id, version, 30)  # held: the second caller waits
    assert not store.portals.try_lock_refresh(portal.member_id, version - 1, 30)  # an older version is spent
    store.portals.release_refresh_lock(portal.member_id)
    assert store.portals.try_lock_refresh(portal.member_id, version, 30)


def test_concurrent_expired_token_spends_the_refresh_token_once(portal: EmulatedPortal, emulator: PortalEmulator):
    emulator.oauth_delay = 0.5  # the first refresh is still out when the others reach the lock
    try:
        _concurrent_refreshes(portal)
    finally:
        emulator.oauth_delay = 0.0


def _concurrent_refreshes(portal: EmulatedPortal) -> None:
    before = portal.refreshes
    version = store.portals.get_portal(portal.member_id).token_version  # type: ignore[union-attr]
    portal.expire_tokens()
    barrier = threading.Barrier(6)
    results: list[object] = []

    def one_function() -> None:
        client = client_for(store.portals.get_portal(portal.member_id))  # type: ignore[arg-type]
        barrier.wait()
        try:
            results.append(client.call("app.info"))
        except Exception as exc:  # reported by the assertion below
            results.append(exc)

    threads = [threading.Thread(target=one_function) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(isinstance(r, dict) for r in results), results
    assert portal.refreshes == before + 1
    stored = store.portals.get_portal(portal.member_id)
    assert stored and stored.token_version == version + 1
    assert stored.access_token in portal.access_tokens and stored.refresh_token in portal.refresh_tokens


def test_a_refresh_token_the_portal_revoked_needs_reinstall(portal: EmulatedPortal):
    from b24sms.adapters.bitrix import TokenRefreshFailed

    portal.refresh_tokens.clear()
    portal.expire_tokens()
    client = client_for(store.portals.get_portal(portal.member_id))  # type: ignore[arg-type]
    try:
        client.call("app.info")
    except TokenRefreshFailed as exc:
        assert exc.code == "invalid_grant"
    else:
        raise AssertionError("expected invalid_grant")
    stored = store.portals.get_portal(portal.member_id)
    assert stored and stored.installed  # the lock is released: a later re-install can refresh again
    assert store.portals.try_lock_refresh(portal.member_id, stored.token_version, 1)
