"""The REST client against the portal emulator (no AWS involved)."""

from __future__ import annotations

import threading

import pytest

from b24sms.adapters.bitrix import BitrixError, RateLimited, TokenRefreshFailed, oauth
from b24sms.adapters.bitrix.client import BitrixClient
from b24sms.domain.models import Portal
from local.portal_emulator import EmulatedPortal, PortalEmulator


class OAuthTokens:
    """A token store without storage: refreshes straight through the emulator's OAuth server."""

    def __init__(self, emulator: PortalEmulator, refresh_token: str) -> None:
        self.emulator = emulator
        self.refresh_token = refresh_token
        self.refreshes = 0

    def refresh(self, portal: Portal) -> Portal:
        tokens = oauth.refresh(
            self.emulator.oauth_url, self.emulator.client_id, self.emulator.client_secret, self.refresh_token, 5
        )
        self.refresh_token = tokens["refresh_token"]
        self.refreshes += 1
        portal.access_token = tokens["access_token"]
        return portal


@pytest.fixture(scope="module")
def emu():
    e = PortalEmulator().start()
    yield e
    e.stop()


def make_client(emu: PortalEmulator, **kwargs) -> tuple[BitrixClient, EmulatedPortal, OAuthTokens]:
    p = emu.add_portal()
    access, refresh = p.issue_tokens()
    tokens = OAuthTokens(emu, refresh)
    client = BitrixClient(
        Portal(member_id=p.member_id, client_endpoint=p.client_endpoint, access_token=access), tokens, backoff=0.01, **kwargs
    )
    return client, p, tokens


def test_call_returns_result_and_sends_php_style_form(emu):
    client, p, _ = make_client(emu)
    assert client.call(
        "messageservice.sender.add", {"CODE": "x1", "TYPE": "SMS", "HANDLER": "https://a.example/h", "NAME": {"en": "X"}}
    )
    assert p.senders["x1"]["NAME"] == {"en": "X"}
    assert client.call("messageservice.sender.list") == ["x1"]


def test_errors_are_typed_with_the_portals_code(emu):
    client, _, _ = make_client(emu)
    with pytest.raises(BitrixError) as info:
        client.call(
            "messageservice.sender.add", {"CODE": "bad code!", "TYPE": "SMS", "HANDLER": "https://a.example/h", "NAME": "X"}
        )
    assert info.value.code == "ERROR_SENDER_VALIDATION_FAILURE"
    assert info.value.description == "Wrong sender code!"
    assert info.value.http_status == 400
    assert not info.value.transient


def test_query_limit_is_retried_with_backoff(emu):
    client, p, _ = make_client(emu)
    p.fail_next(3, 503, "QUERY_LIMIT_EXCEEDED")
    assert client.call("messageservice.sender.list") == []
    assert client.requests_made == 4


def test_retries_are_bounded(emu):
    client, p, _ = make_client(emu, max_retries=2)
    p.fail_next(5, 429, "QUERY_LIMIT_EXCEEDED")
    with pytest.raises(RateLimited):
        client.call("messageservice.sender.list")
    assert client.requests_made == 3


def test_server_errors_are_retried(emu):
    client, p, _ = make_client(emu)
    p.fail_next(2, 500, "INTERNAL_SERVER_ERROR")
    assert client.call("messageservice.sender.list") == []


def test_expired_token_is_refreshed_once_and_the_call_retried(emu):
    client, p, tokens = make_client(emu)
    p.expire_tokens()
    assert client.call("messageservice.sender.list") == []
    assert tokens.refreshes == 1
    assert p.refreshes == 1


def test_a_spent_refresh_token_is_refused(emu):
    client, p, tokens = make_client(emu)
    old = tokens.refresh_token
    p.expire_tokens()
    client.call("messageservice.sender.list")
    tokens.refresh_token = old  # rotation: the old refresh token is dead now
    p.expire_tokens()
    with pytest.raises(TokenRefreshFailed) as info:
        client.call("messageservice.sender.list")
    assert info.value.code == "invalid_grant"


def test_batch_reports_errors_per_command(emu):
    client, p, _ = make_client(emu)
    client.call("messageservice.sender.add", {"CODE": "b1", "TYPE": "SMS", "HANDLER": "https://a.example/h", "NAME": "B"})
    p.messages["m1"] = ["sent"]
    before = client.requests_made
    result = client.batch(
        {
            "ok": ("messageservice.message.status.update", {"CODE": "b1", "MESSAGE_ID": "m1", "STATUS": "delivered"}),
            "gone": ("messageservice.message.status.update", {"CODE": "b1", "MESSAGE_ID": "nope", "STATUS": "delivered"}),
        }
    )
    assert result.results == {"ok": True}
    assert result.errors["gone"].code == "ERROR_MESSAGE_NOT_FOUND"
    assert client.requests_made == before + 1
    assert p.timeline("m1") == ["sent", "delivered"]


def test_batch_refuses_more_than_50_commands(emu):
    client, _, _ = make_client(emu)
    with pytest.raises(ValueError, match="at most 50"):
        client.batch({str(i): ("app.info", {}) for i in range(51)})


def test_leaky_bucket_throttles_a_burst(emu):
    emu_limited = PortalEmulator(rate=2, burst=5).start()
    try:
        client, p, _ = make_client(emu_limited, max_retries=0)
        results = []
        for _ in range(8):
            try:
                client.call("app.info")
                results.append("ok")
            except RateLimited:
                results.append("limited")
        assert results[:5] == ["ok"] * 5
        assert "limited" in results[5:]
        assert p.limit_exceeded >= 1
    finally:
        emu_limited.stop()


def test_network_failure_is_a_transient_error(emu):
    from b24sms.adapters.bitrix import PortalUnavailable

    client = BitrixClient(
        Portal(member_id="m", client_endpoint="http://127.0.0.1:9/rest/", access_token="t"),
        None,
        max_retries=1,
        backoff=0.01,
        timeout=1,
    )
    with pytest.raises(PortalUnavailable) as info:
        client.call("app.info")
    assert info.value.transient


def test_concurrent_clients_do_not_share_state(emu):
    client, _, _ = make_client(emu)
    errors: list[Exception] = []

    def work() -> None:
        try:
            client.call("app.info")
        except Exception as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
