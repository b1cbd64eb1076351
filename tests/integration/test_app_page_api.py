"""The application page's server side without a browser: the counters written by the push batches
(one ADD per portal-day per batch, each message counted once), the page's carrier settings being the
ones `make portal-carrier` shows, and the sender sync keeping the senders added on the page."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
import requests

from b24sms.adapters import store
from b24sms.adapters.bitrix.tokens import client_for
from b24sms.domain.dispatch_states import DispatchState
from b24sms.domain.models import Message
from b24sms.usecases import bitrix_events
from b24sms.usecases import push as pushes
from local.portal_emulator import EmulatedPortal, PortalEmulator
from local.stack import LocalStack
from tests.integration.test_portal_carrier_cli import NO_CREDENTIALS, portal_carrier


def session_of(emulator: PortalEmulator, portal: EmulatedPortal, user: str = "1") -> str:
    response = emulator.open_app(portal, user)
    assert response.status_code == 200, response.text
    return str(re.findall(r'name="session" value="([^"]+)"', response.text)[0])


def call(stack: LocalStack, token: str, action: str, **data: str) -> requests.Response:
    return requests.post(
        f"{stack.base_url}/bitrix/app/api/{action}", data=data or {"_": "1"}, headers={"X-B24sms-Session": token}, timeout=30
    )


def final_message(member_id: str, message_id: str, status: str, segments: int = 1) -> Message:
    now = int(time.time())
    message = Message(
        member_id=member_id, message_id=message_id, to="+15550100100", code="b24sms", status=status, status_rank=2,
        dispatch_state=DispatchState.SENT, segments=segments, created_at=now, updated_at=now,
    )  # fmt: skip
    assert store.messages.create_message(message)
    return message


def test_a_push_batch_adds_once_per_portal_day_and_counts_each_message_once(
    stack: LocalStack, emulator: PortalEmulator, portal: EmulatedPortal, monkeypatch: pytest.MonkeyPatch
):
    writes: list[dict[tuple[str, str], dict[str, int]]] = []
    real = store.counters.add_day_counts

    def counted(counts: dict[tuple[str, str], dict[str, int]], seen: dict[tuple[str, str], dict[str, int]] | None = None) -> int:
        writes.append(counts)
        return real(counts, seen)

    monkeypatch.setattr(store.counters, "add_day_counts", counted)
    keys = [
        (m.member_id, m.message_id)
        for m in (
            final_message(portal.member_id, "c1", "delivered", 2),
            final_message(portal.member_id, "c2", "delivered"),
            final_message(portal.member_id, "c3", "failed"),
        )
    ]
    pushes.push(keys)
    assert [len(w) for w in writes] == [1]  # one portal, one day: one ADD for the three
    pushes.push(keys)  # the same statuses again (a redelivered queue message): nothing more counted
    counters = store.counters.day_counters(portal.member_id)
    (today,) = counters.values()
    assert {k: today.get(k) for k in ("sent", "delivered", "failed", "parts")} == {
        "sent": 3,
        "delivered": 2,
        "failed": 1,
        "parts": 4,
    }
    assert today["s:b24sms:delivered"] == 2


def test_the_page_writes_the_settings_make_portal_carrier_shows(
    stack: LocalStack, emulator: PortalEmulator, portal: EmulatedPortal
):
    token = session_of(emulator, portal)
    saved = call(stack, token, "carrier-save", carrier="sandbox", sender="Acme", country="de")
    assert saved.status_code == 200, saved.text
    aws = {"AWS_ENDPOINT_URL": stack.aws_endpoint, "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
    shown = portal_carrier(
        "--table", stack.table_name("PortalsTable"), "--member-id", portal.member_id, "--show", env={**NO_CREDENTIALS, **aws}
    )
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == {"carrier": "sandbox", "sender": "Acme", "default_country": "DE"}


def test_bad_input_is_a_json_4xx_and_writes_nothing(stack: LocalStack, emulator: PortalEmulator, portal: EmulatedPortal):
    token = session_of(emulator, portal)
    before = store.portals.get_portal(portal.member_id)
    cases: list[tuple[str, dict[str, Any], int]] = [
        ("carrier-save", {"carrier": "nope"}, 400),
        ("carrier-save", {"carrier": "twilio", "account_sid": "AC1", "auth_token": "x"}, 400),
        ("carrier-save", {"carrier": "sandbox", "country": "ZZ"}, 400),
        ("test-send", {"to": "abc"}, 400),
        ("sender-add", {"name": "x" * 51}, 400),
        ("sender-delete", {"code": "b24sms"}, 400),
        ("optout-remove", {"ref": "nope"}, 404),
        ("no-such-action", {"a": "1"}, 404),
    ]
    for action, data, status in cases:
        response = call(stack, token, action, **data)
        assert response.status_code == status, (action, response.text)
        assert response.headers["Content-Type"].startswith("application/json") and "error" in response.json()
    after = store.portals.get_portal(portal.member_id)
    assert before and after and before.carrier_config == after.carrier_config and before.senders == after.senders
    assert store.audit.audit_log(portal.member_id) == []


def test_the_sender_sync_keeps_the_senders_added_on_the_page(stack: LocalStack, emulator: PortalEmulator, portal: EmulatedPortal):
    token = session_of(emulator, portal)
    assert call(stack, token, "sender-add", name="Second").status_code == 200
    with emulator.lock:
        del portal.senders["b24sms_2"]  # lost on the portal (e.g. removed by hand)
    record = store.portals.get_portal(portal.member_id)
    assert record is not None
    report = bitrix_events.sync_portal(client_for(record), record)
    assert report.added == ["b24sms_2"] and report.deleted == [] and not report.error
    assert portal.senders["b24sms_2"]["NAME"]["en"] == "Second"
    again = bitrix_events.sync_portal(client_for(record), store.portals.get_portal(portal.member_id))  # type: ignore[arg-type]
    assert "b24sms_2" in again.unchanged and not again.deleted


def test_an_open_post_at_the_install_url_goes_to_the_page_only_for_an_installed_portal(
    stack: LocalStack, emulator: PortalEmulator, portal: EmulatedPortal
):
    install_url = f"{stack.base_url}/bitrix/install"
    opened = emulator.open_app(portal, url=install_url)
    assert opened.status_code == 200 and f'action="{stack.base_url}/bitrix/app?' in opened.text
    assert "REFRESH_ID" not in opened.text  # only what the page needs goes on
    emulator.uninstall(portal)
    refused = emulator.open_app(portal, url=install_url)
    assert "/bitrix/app" not in refused.text and refused.status_code == 400


def test_check_asks_vonage_for_the_balance(
    stack: LocalStack, emulator: PortalEmulator, portal: EmulatedPortal, monkeypatch: pytest.MonkeyPatch
):
    from local.fakes.vonage import VonageFake

    fake = VonageFake().start()
    try:
        monkeypatch.setenv("VONAGE_API_BASE", fake.base_url)
        token = session_of(emulator, portal)
        wrong = call(stack, token, "carrier-check", carrier="vonage", api_key=fake.api_key, api_secret="nope", sender="Acme")
        assert wrong.status_code == 400 and "Vonage refused these credentials" in wrong.json()["error_description"]
        right = call(
            stack, token, "carrier-check", carrier="vonage", api_key=fake.api_key, api_secret=fake.api_secret,
            signature_secret="its-signature-secret",  # required where the deployment has none
        )  # fmt: skip
        assert right.status_code == 200, right.text
        missing = call(stack, token, "carrier-check", carrier="vonage", api_key=fake.api_key)
        assert missing.status_code == 400 and "API secret: fill it in." in missing.json()["error_description"]  # by label
    finally:
        fake.stop()


def test_the_page_believes_an_auth_id_only_when_the_portal_stored_at_install_confirms_it(
    stack: LocalStack, emulator: PortalEmulator, portal: EmulatedPortal
):
    """Never trust what the POST says: a made-up AUTH_ID, or a real one of another portal posted with this
    portal's member_id (asked at this portal's stored endpoint, which does not know it), gets no session."""
    from local.emulator import apppage, events

    other = emulator.add_portal()
    assert emulator.install(other, f"{stack.base_url}/bitrix/install").status_code == 200
    forged, query = apppage.open_form(portal)
    forged["AUTH_ID"] = "forged-token"
    others_token = apppage.open_form(other)[0]["AUTH_ID"]
    borrowed = {**apppage.open_form(portal)[0], "AUTH_ID": others_token}
    for form in (forged, borrowed):
        response = events.post(f"{stack.base_url}/bitrix/app", form, params=query)
        assert response.status_code == 401, response.text[:300]
        assert 'name="session"' not in response.text
    assert session_of(emulator, portal)  # the portal's own user, with the portal's own token, gets one


def test_a_malformed_log_cursor_is_a_400_never_a_500(stack: LocalStack, emulator: PortalEmulator, portal: EmulatedPortal):
    """A number DynamoDB cannot hold (46 digits) made boto3 raise decimal.Rounded: any user could get a 500."""
    token = session_of(emulator, portal)
    for cursor in ("1" * 46 + ":x", "1" * 13 + ":x", "12:", ":x", "x:y", "12:" + "a" * 200, "12:a\nb"):
        response = requests.post(f"{stack.base_url}/bitrix/app", data={"session": token, "cursor": cursor}, timeout=30)
        assert response.status_code == 400, (cursor, response.status_code, response.text[:200])
        assert "no longer exists" in response.text
    fine = requests.post(f"{stack.base_url}/bitrix/app", data={"session": token, "cursor": "1700000000:m1"}, timeout=30)
    assert fine.status_code == 200, fine.text[:300]
    opened = emulator.open_app(portal, lang="ru")  # the refusal in the session's language
    ru_token = re.findall(r'name="session" value="([^"]+)"', opened.text)[0]
    refused = requests.post(f"{stack.base_url}/bitrix/app", data={"session": ru_token, "cursor": "x"}, timeout=30)
    assert refused.status_code == 400 and "Такой страницы журнала нет" in refused.text


def test_a_removed_senders_code_is_never_handed_out_again(stack: LocalStack, emulator: PortalEmulator, portal: EmulatedPortal):
    """The log and the statistics name senders by CODE: a reused one would mix two senders' histories."""
    token = session_of(emulator, portal)
    codes = []
    for name, remove in (("Second", True), ("Third", False), ("Fourth", True), ("Fifth", False)):
        added = call(stack, token, "sender-add", name=name)
        assert added.status_code == 200, added.text
        codes.append(added.json()["code"])
        if remove:
            assert call(stack, token, "sender-delete", code=codes[-1]).status_code == 200
    assert codes == ["b24sms_2", "b24sms_3", "b24sms_4", "b24sms_5"]
    record = store.portals.get_portal(portal.member_id)
    assert record is not None and sorted(record.senders) == ["b24sms_3", "b24sms_5"]
    emulator.install(portal, f"{stack.base_url}/bitrix/install")  # a re-install keeps the count
    assert call(stack, session_of(emulator, portal), "sender-add", name="Sixth").json()["code"] == "b24sms_6"
    # An uninstall without CLEAN keeps the messages that name these CODEs: so does the count.
    assert emulator.uninstall(portal) is not None
    emulator.install(portal, f"{stack.base_url}/bitrix/install")
    assert call(stack, session_of(emulator, portal), "sender-add", name="Seventh").json()["code"] == "b24sms_7"


def test_a_sender_name_with_control_or_direction_override_characters_is_refused(
    stack: LocalStack, emulator: PortalEmulator, portal: EmulatedPortal
):
    """A NUL or a right-to-left override (U+202E) in a name would be registered on the portal and shown
    to every CRM user, reversed or cut: refused with a 400 naming the field, nothing registered."""
    token = session_of(emulator, portal)
    assert call(stack, token, "sender-add", name="Second").status_code == 200
    registered = dict(portal.senders)
    for bad in ("Ac\x00me", "Acme\u202etxt.exe", "Acme\u2066x\u2069", "Ac\nme", "Acme\u200f", "Ac\u2028me"):
        for action, data in (("sender-add", {"name": bad}), ("sender-rename", {"code": "b24sms_2", "name": bad})):
            response = call(stack, token, action, **data)
            assert response.status_code == 400, (action, bad, response.text)
            assert "name" in response.json()["error_description"], response.text
    assert portal.senders == registered
    record = store.portals.get_portal(portal.member_id)
    assert record is not None and record.senders == {"b24sms_2": {"name": "Second"}}
    assert call(stack, token, "sender-rename", code="b24sms_2", name="Поддержка 👩‍💻").status_code == 200  # letters, emoji: fine


def test_a_test_sms_from_the_page_is_not_counted_in_the_statistics(
    stack: LocalStack, emulator: PortalEmulator, portal: EmulatedPortal
):
    """The docs promise it: the page's test SMS (``test-`` ids) never reach the day counters."""
    keys = [(m.member_id, m.message_id) for m in (final_message(portal.member_id, "test-00aa11bb22cc33dd", "delivered"),)]
    report = pushes.push(keys)
    assert report.pushed == keys  # done with: never pushed to the portal, never retried
    assert store.counters.day_counters(portal.member_id) == {}


@pytest.mark.parametrize(
    ("lang", "sentence"), [("en", "Open the application from the portal."), ("ru", "Откройте приложение из портала.")]
)
def test_the_page_opened_outside_the_portal_answers_an_html_page_in_its_language(
    stack: LocalStack, lang: str, sentence: str
) -> None:
    response = requests.get(f"{stack.base_url}/bitrix/app", params={"LANG": lang}, timeout=30)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/html"), response.text
    assert sentence in response.text and f'<html lang="{lang}">' in response.text
    assert "frame-ancestors" in response.headers["Content-Security-Policy"]


def test_the_log_reads_its_index_then_the_messages_under_the_app_s_own_permissions(
    stack: LocalStack, emulator: PortalEmulator, portal: EmulatedPortal
):
    """The log Queries ``by-portal-log`` for keys and reads the messages by BatchGetItem, as
    AppFunction (its IAM enforced): the status comes from the table, the status filter after the read."""
    final_message(portal.member_id, "log-d", "delivered")
    final_message(portal.member_id, "log-f", "failed")
    token = session_of(emulator, portal)
    page = requests.post(f"{stack.base_url}/bitrix/app", data={"session": token}, timeout=30)
    assert page.status_code == 200, page.text[:300]
    assert sorted(re.findall(r'data-id="(log-[df])"', page.text)) == ["log-d", "log-f"]  # same second: either order
    failed = requests.post(f"{stack.base_url}/bitrix/app", data={"session": token, "status": "failed"}, timeout=30)
    assert failed.status_code == 200, failed.text[:300]
    assert re.findall(r'data-id="(log-[df])"', failed.text) == ["log-f"]
