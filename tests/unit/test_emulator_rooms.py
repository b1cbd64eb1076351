"""The portal emulator's rooms one by one, without the app: state, imconnector's table, oauth, events
(what the portal sends), server (routing) and the actor's helpers. The REST room has its own file."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from local.emulator import events, imconnector, oauth, rest, server
from local.emulator.actor import PortalEmulator
from local.emulator.forms import decode_form, encode_form
from local.emulator.params import RestError
from local.emulator.state import EmulatedChat, EmulatedPortal, EmulatorState
from local.httpserver import LoopbackServer, Reply, json_reply


@pytest.fixture
def state() -> EmulatorState:
    s = EmulatorState()
    s.base_url = "http://127.0.0.1:9"
    return s


# -- state ----------------------------------------------------------------------------------------
def test_portals_get_their_endpoints_names_and_settings(state: EmulatorState):
    state.rate, state.burst = 5.0, 7.0
    first, second = state.add_portal(), state.add_portal("acme", member_id="m1", application_token="app-token")
    assert (first.name, first.domain) == ("portal1", "portal1.bitrix24.test")
    assert first.client_endpoint == "http://127.0.0.1:9/portal1/rest/"
    assert first.server_endpoint == "http://127.0.0.1:9/oauth/rest/"
    assert (first.rate, first.burst) == (5.0, 7.0)
    assert (second.member_id, second.application_token) == ("m1", "app-token")
    assert first.application_token and first.application_token != second.application_token
    assert state.portals == {"portal1": first, "acme": second}


def test_scope_tokens_lines_and_ids(state: EmulatorState):
    portal = state.add_portal()
    assert portal.scope == "messageservice,crm,im,imconnector,imopenlines"
    portal.scopes = {"imopenlines", "imconnector"}
    assert portal.scope == "imconnector,imopenlines"
    old, _ = portal.issue_tokens()
    new, _ = portal.issue_tokens()
    assert portal.current_access_token == new
    portal.access_tokens[new] = 0.0
    assert portal.current_access_token == old  # the last one still live
    portal.expire_tokens()
    assert portal.current_access_token == new  # none live: the last one issued
    assert portal.add_line("Second") == "2" and portal.lines["2"]["LINE_NAME"] == "Second"
    assert [portal.new_id(), portal.new_id()] == [1001, 1002]


# -- imconnector -----------------------------------------------------------------------------------
def test_imconnector_checks_connector_and_line_before_the_method_own_checks(state: EmulatorState):
    portal = state.add_portal()
    with pytest.raises(RestError) as caught:
        imconnector.METHODS["imconnector.activate"](portal, {"CONNECTOR": "unknown", "ACTIVE": "maybe"})
    assert (caught.value.code, caught.value.description) == ("ERROR_ARGUMENT", "Argument 'LINE' is null or empty")
    with pytest.raises(RestError) as caught:
        imconnector.METHODS["imconnector.send.messages"](portal, {"CONNECTOR": "unknown", "LINE": "1"})
    assert caught.value.description == "Argument 'MESSAGES' is null or empty"  # before the provider
    portal.connectors["b24sms"] = {"NAME": "SMS"}
    assert imconnector.METHODS["imconnector.list"](portal, {}) == {"b24sms": "SMS"}
    assert imconnector.METHODS["imconnector.activate"](portal, {"CONNECTOR": "b24sms", "LINE": "1", "ACTIVE": "Y"}) is True
    assert portal.is_active("b24sms", 1)


# -- oauth ----------------------------------------------------------------------------------------
def grant(state: EmulatorState, refresh: str, **overrides: str) -> dict[str, str]:
    return {
        "grant_type": "refresh_token",
        "client_id": state.client_id,
        "client_secret": state.client_secret,
        "refresh_token": refresh,
        **overrides,
    }


def test_oauth_rotates_refresh_tokens(state: EmulatorState):
    portal = state.add_portal()
    _, refresh = portal.issue_tokens()
    status, answer = oauth.token(state, grant(state, refresh))
    assert status == 200 and answer["member_id"] == portal.member_id and answer["scope"] == f"app,{portal.scope}"
    assert answer["access_token"] in portal.access_tokens and portal.refresh_tokens == {answer["refresh_token"]}
    assert portal.refreshes == 1
    assert oauth.token(state, grant(state, refresh)) == (
        400,
        {"error": "invalid_grant", "error_description": "Invalid refresh token"},
    )
    assert oauth.token(state, grant(state, answer["refresh_token"], client_secret="x"))[1]["error"] == "invalid_client"
    assert oauth.token(state, grant(state, answer["refresh_token"], grant_type="code"))[1]["error"] == "unsupported_grant_type"
    assert portal.refreshes == 1


def test_oauth_delay_is_slept_outside_the_lock(state: EmulatorState):
    portal = state.add_portal()
    _, refresh = portal.issue_tokens()
    state.oauth_delay = 0.6
    answers: list[tuple[int, dict[str, Any]]] = []
    started = time.monotonic()
    worker = threading.Thread(target=lambda: answers.append(oauth.token(state, grant(state, refresh))))
    worker.start()
    time.sleep(0.1)
    assert state.lock.acquire(timeout=0.2)  # the OAuth server is waiting, not holding the emulator
    state.lock.release()
    worker.join()
    assert answers[0][0] == 200 and time.monotonic() - started >= 0.6


# -- events ----------------------------------------------------------------------------------------
def test_the_forms_the_portal_sends(state: EmulatorState):
    portal = state.add_portal()
    access, refresh = portal.issue_tokens()
    install = events.install_event(portal, access, refresh)
    assert (install["event"], install["auth"]["access_token"], install["auth"]["refresh_token"]) == (
        "ONAPPINSTALL",
        access,
        refresh,
    )
    uninstall = events.uninstall_event(portal, clean=True)
    assert uninstall["data"]["CLEAN"] == "1" and "access_token" not in uninstall["auth"]
    assert "auth" not in events.sms("b24sms", "m1", "+15550001111", "hi")  # what a robot's SMS carries
    page, query = events.install_page(portal, access, refresh)
    assert page["AUTH_ID"] == access and page["APPLICATION_SCOPE"] == portal.scope and query["DOMAIN"] == portal.domain


def test_events_go_to_bound_handlers_with_a_live_token(state: EmulatorState):
    portal = state.add_portal()
    assert events.bound_event(portal, "ONIMCONNECTORLINEDELETE", "1") is None
    portal.events.update(ONAPPUNINSTALL="https://a.example/u", ONIMCONNECTORLINEDELETE="https://a.example/e")
    posting = events.bound_event(portal, "ONIMCONNECTORLINEDELETE", "1")
    assert posting is not None
    handler, form = posting
    assert handler == "https://a.example/e" and form["event_handler_id"] == "2" and form["data"] == "1"
    assert portal.access_tokens[form["auth"]["access_token"]] > time.time()  # none was live: one was minted
    chat = EmulatedChat("b24sms", "1", "+15550001111", chat_id=5, session_id=6, user_id=7)
    reply = events.operator_message(portal, chat, 8, "hello", "3", None)
    assert reply["data"]["MESSAGES"] == [
        {"im": {"chat_id": 5, "message_id": 8}, "message": {"user_id": "3", "text": "hello"}, "chat": {"id": "+15550001111"}}
    ]
    assert reply["event_handler_id"] == "0"  # not bound


# -- server ----------------------------------------------------------------------------------------
def test_the_server_routes_oauth_and_rest(state: EmulatorState):
    portal = state.add_portal("p")
    access, refresh = portal.issue_tokens()
    seen: list[tuple[str, dict[str, Any]]] = []
    portal.on_call = lambda method, params: seen.append((method, dict(params)))
    assert server.handle(state, "POST", "/nope/rest/app.info.json", "", "") == (
        404,
        {"error": "NOT_FOUND", "error_description": "Not found"},
    )
    status, answer = server.handle(state, "GET", f"/p/rest/APP.INFO?auth={access}", "", "")
    assert status == 200 and answer["result"]["CODE"] == "local.app" and "time" in answer
    status, answer = server.handle(
        state,
        "POST",
        "/p/rest/event.bind.json?event=x",
        "application/json",
        f'{{"auth": "{access}", "event": "y", "handler": "h"}}',
    )
    assert status == 200 and portal.events == {"Y": "h"}  # the body wins over the query
    assert [m for m, _ in seen] == ["app.info", "event.bind"]
    portal.fail_next(1, 503, "OPERATION_TIME_LIMIT")
    status, answer = server.handle(state, "POST", "/p/rest/app.info", "", f"auth={access}")
    assert status == 503 and answer["error"] == "OPERATION_TIME_LIMIT" and answer["time"]["operating_reset_at"] > time.time()
    status, answer = server.handle(state, "POST", "/p/rest/app.info", "", "auth=nope")
    assert (status, answer) == (401, {"error": "invalid_token", "error_description": "The access token provided is invalid."})
    body = encode_form(grant(state, refresh))
    status, answer = server.handle(state, "POST", "/oauth/token/", "application/x-www-form-urlencoded", body)
    assert status == 200 and answer["member_id"] == portal.member_id


# -- actor -----------------------------------------------------------------------------------------
class App:
    def __init__(self) -> None:
        self.forms: list[dict[str, Any]] = []
        self.server = LoopbackServer(self._respond).start()

    def _respond(self, method: str, path: str, headers: dict[str, str], body: bytes, _: str) -> Reply:
        self.forms.append(decode_form(body))
        return json_reply(200, {})


@pytest.fixture
def app() -> Iterator[App]:
    receiver = App()
    yield receiver
    receiver.server.stop()


def test_the_actor_sends_sms_and_uninstalls(app: App):
    emulator = PortalEmulator()
    portal = emulator.add_portal()
    with pytest.raises(RuntimeError):
        emulator.send_sms(portal, "+15550001111", "hi")
    access, _ = portal.issue_tokens()
    portal.senders["b24sms"] = {"HANDLER": f"{app.server.base_url}/handler"}
    message_id, response = emulator.send_sms(portal, "+15550001111", "hi")
    assert response.status_code == 200 and portal.timeline(message_id) == ["sent"]
    assert app.forms[-1]["auth"]["access_token"] == access and app.forms[-1]["message_body"] == "hi"
    emulator.send_sms(portal, "+15550001111", "hi", message_id=message_id, with_auth=False)
    assert portal.timeline(message_id) == ["sent"] and "auth" not in app.forms[-1]
    portal.connectors["b24sms"] = {"NAME": "SMS"}
    assert emulator.uninstall(portal) is None  # nothing bound: nothing sent
    assert (portal.senders, portal.connectors, portal.access_tokens, portal.installed) == ({}, {}, {}, False)
    assert isinstance(portal, EmulatedPortal)


def test_update_app_drops_what_bitrix24_drops_and_sends_onappupdate(app: App):
    emulator = PortalEmulator()
    portal = emulator.add_portal()
    portal.senders["b24sms"] = {"HANDLER": "h"}
    portal.connectors["b24sms_sms"] = {"NAME": "SMS"}
    portal.active[("b24sms_sms", "1")] = True
    assert emulator.update_app(portal) is None  # nothing bound for it: nothing sent, senders gone anyway
    assert portal.senders == {} and portal.app_version == 2

    url = f"{app.server.base_url}/events"
    portal.senders["b24sms"] = {"HANDLER": "h"}
    portal.events.update(ONAPPINSTALL="installer", ONAPPUNINSTALL=url, ONAPPUPDATE=url)
    response = emulator.update_app(portal)
    assert response is not None and response.status_code == 200
    assert portal.senders == {} and portal.events == {"ONAPPUNINSTALL": url, "ONAPPUPDATE": url}  # installer's gone
    assert portal.connectors and portal.is_active("b24sms_sms", "1")  # kept unless asked to drop them
    form = app.forms[-1]
    assert form["event"] == "ONAPPUPDATE" and form["event_handler_id"] == "3"
    assert form["data"] == {"VERSION": "3", "PREVIOUS_VERSION": "2", "LANGUAGE_ID": "en"}
    auth = form["auth"]
    assert auth["application_token"] == portal.application_token and auth["member_id"] == portal.member_id
    assert auth["access_token"] in portal.access_tokens and auth["refresh_token"] in portal.refresh_tokens

    response = emulator.update_app(portal, drop_bindings=True, drop_connector=True)
    assert response is not None and app.forms[-1]["event"] == "ONAPPUPDATE"  # sent to the handler bound before
    assert (portal.events, portal.connectors, portal.active) == ({}, {}, {})


def test_event_get_lists_the_apps_bindings():
    portal = EmulatorState().add_portal("p")
    portal.access_tokens["tok"] = time.time() + 3600
    portal.events["ONAPPUNINSTALL"] = "https://app.example.com/bitrix/events"
    assert rest.serve(portal, "event.get", {"auth": "tok"}) == [
        {"event": "ONAPPUNINSTALL", "handler": "https://app.example.com/bitrix/events", "auth_type": "0", "offline": 0}
    ]


def test_a_portal_of_its_own_endpoint_refuses_connections_and_accepts_again():
    emulator = PortalEmulator().start()
    try:
        portal = emulator.own_endpoint(emulator.add_portal())
        assert not portal.client_endpoint.startswith(emulator.base_url)
        session = requests.Session()  # a pooled keep-alive connection, as the app's client keeps one
        url = f"{portal.client_endpoint}app.info"
        assert session.post(url, timeout=5).json()["error"] == "NO_AUTH_FOUND"
        emulator.refuse_connections(portal)
        with pytest.raises(requests.ConnectionError):
            session.post(url, timeout=5)  # the open connection was reset, and a new one is refused
        with pytest.raises(requests.ConnectionError):
            requests.post(url, timeout=5)
        emulator.accept_connections(portal)
        assert session.post(url, timeout=5).json()["error"] == "NO_AUTH_FOUND"  # same address again
    finally:
        emulator.stop()


def test_a_slow_portal_answers_late_and_holds_up_no_other_portal():
    emulator = PortalEmulator().start()
    try:
        slow, quick = emulator.add_portal(), emulator.add_portal()
        emulator.slow_down(slow, 1.0)
        answered: list[float] = []
        started = time.monotonic()
        caller = threading.Thread(target=lambda: requests.post(f"{slow.client_endpoint}app.info", timeout=5))
        caller.start()
        time.sleep(0.1)  # the slow call is in progress
        assert requests.post(f"{quick.client_endpoint}app.info", timeout=5).json()["error"] == "NO_AUTH_FOUND"
        answered.append(time.monotonic() - started)
        caller.join()
        answered.append(time.monotonic() - started)
        assert answered[0] < 0.6 <= 1.0 <= answered[1]
        emulator.slow_down(slow, 0)
        assert slow.delay == 0
    finally:
        emulator.stop()


@pytest.mark.parametrize("refuse", [True, False])
def test_a_portal_taken_down_for_a_while_comes_back_by_itself(refuse: bool):
    emulator = PortalEmulator().start()
    try:
        portal = emulator.add_portal()
        if refuse:
            emulator.own_endpoint(portal)
        url = f"{portal.client_endpoint}app.info"
        emulator.take_down(portal, 0.5, refuse=refuse)
        if refuse:
            with pytest.raises(requests.ConnectionError):
                requests.post(url, timeout=5)
        else:
            answer = requests.post(url, timeout=5)
            assert (answer.status_code, answer.json()["error"]) == (503, "INTERNAL_SERVER_ERROR")
        time.sleep(0.8)
        assert requests.post(url, timeout=5).json()["error"] == "NO_AUTH_FOUND"  # back, at the same address
    finally:
        emulator.stop()
