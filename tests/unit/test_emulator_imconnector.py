"""The portal emulator's Open Lines connector (imconnector), over real HTTP, as the app will use it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from b24sms.domain.formdata import decode_form, encode_form
from local.httpserver import LoopbackServer, Reply, json_reply
from local.portal_emulator import EmulatedPortal, PortalEmulator

ICON = {"DATA_IMAGE": "data:image/svg+xml;charset=US-ASCII,%3Csvg%3E%3C/svg%3E", "COLOR": "#1900ff", "SIZE": "90%"}


@pytest.fixture(scope="module")
def emu() -> Iterator[PortalEmulator]:
    emulator = PortalEmulator().start()
    yield emulator
    emulator.stop()


class App:
    """A tiny stand-in for the app: records what the portal POSTs to it."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.server = LoopbackServer(self._respond).start()
        self.url = self.server.base_url

    def _respond(self, method: str, path: str, headers: dict[str, str], body: bytes, _: str) -> Reply:
        self.requests.append((method, path, headers, body))
        return json_reply(200, {"ok": True})

    def form(self, index: int = -1) -> dict[str, Any]:
        return decode_form(self.requests[index][3])


@pytest.fixture
def app() -> Iterator[App]:
    receiver = App()
    yield receiver
    receiver.server.stop()


@pytest.fixture
def portal(emu: PortalEmulator) -> EmulatedPortal:
    p = emu.add_portal()
    p.issue_tokens()
    return p


def call(portal: EmulatedPortal, method: str, params: dict[str, Any] | None = None, as_json: bool = False) -> requests.Response:
    body = {**(params or {}), "auth": portal.current_access_token}
    url = f"{portal.client_endpoint}{method}.json"
    if as_json:
        return requests.post(url, json=body, timeout=10)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    return requests.post(url, data=encode_form(body).encode(), headers=headers, timeout=10)


def register(portal: EmulatedPortal, connector: str = "b24sms", **extra: Any) -> requests.Response:
    params = {"ID": connector, "NAME": "SMS", "ICON": ICON, "PLACEMENT_HANDLER": "https://app.example.com/connector", **extra}
    return call(portal, "imconnector.register", params)


def connected(portal: EmulatedPortal, connector: str = "b24sms", line: str = "1") -> None:
    assert register(portal, connector).json()["result"] is True
    answer = call(portal, "imconnector.activate", {"CONNECTOR": connector, "LINE": line, "ACTIVE": 1})
    assert answer.json()["result"] is True


def entry(message_id: str, text: str = "hello", chat: str = "+15550001111", user: str = "+15550001111") -> dict[str, Any]:
    return {
        "user": {"id": user, "name": "Ann", "phone": user, "skip_phone_validate": "Y"},
        "message": {"id": message_id, "date": 1773266050, "text": text},
        "chat": {"id": chat, "name": f"SMS {chat}"},
    }


def send(portal: EmulatedPortal, *entries: dict[str, Any], method: str = "imconnector.send.messages", line: str = "1") -> Any:
    return call(portal, method, {"CONNECTOR": "b24sms", "LINE": line, "MESSAGES": list(entries)})


def error(response: requests.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]


def test_register_validates_as_the_portal_does(portal: EmulatedPortal):
    assert error(register(portal, "b24.sms")) == (400, "ERROR_ARGUMENT")
    assert "'ID'" in register(portal, "b24.sms").json()["error_description"]
    assert error(register(portal, "B24sms")) == (400, "ERROR_ARGUMENT")
    assert error(call(portal, "imconnector.register", {"ID": "b24sms", "ICON": ICON, "PLACEMENT_HANDLER": "https://a.b/c"})) == (
        400,
        "ERROR_ARGUMENT",
    )
    assert error(register(portal, ICON={"DATA_IMAGE": "data:image/png;base64,AAAA"})) == (400, "ERROR_ARGUMENT")
    assert error(register(portal, ICON={"COLOR": "#fff"})) == (400, "ERROR_ARGUMENT")
    assert error(register(portal, PLACEMENT_HANDLER="ftp://app.example.com/c")) == (400, "ERROR_UNSUPPORTED_PROTOCOL")
    assert portal.connectors == {}

    assert register(portal).json()["result"] is True
    assert register(portal, NAME="SMS (renamed)").json()["result"] is True  # the same ID again updates it
    assert list(portal.connectors) == ["b24sms"]
    assert portal.connectors["b24sms"]["NAME"] == "SMS (renamed)"
    assert call(portal, "imconnector.list").json()["result"] == {"b24sms": "SMS (renamed)"}


def test_activate_needs_a_registered_connector_and_an_existing_line(portal: EmulatedPortal):
    activate = {"CONNECTOR": "b24sms", "LINE": "1", "ACTIVE": 1}
    assert error(call(portal, "imconnector.activate", activate)) == (400, "ERROR_ARGUMENT")
    register(portal)
    assert error(call(portal, "imconnector.activate", {**activate, "LINE": "99"})) == (400, "ERROR_ARGUMENT")
    line = portal.add_line("Second")
    assert call(portal, "imconnector.activate", {"CONNECTOR": "b24sms", "LINE": line, "ACTIVE": 1}).json()["result"] is True
    assert portal.active == {("b24sms", line): True}
    status = call(portal, "imconnector.status", {"CONNECTOR": "b24sms", "LINE": line}).json()["result"]
    assert status == {"LINE": line, "CONNECTOR": "b24sms", "ERROR": False, "CONFIGURED": True, "STATUS": True}
    data = {"ID": "b24sms", "URL": "https://app.example.com", "URL_IM": "https://app.example.com", "NAME": "SMS"}
    assert call(portal, "imconnector.connector.data.set", {"CONNECTOR": "b24sms", "LINE": line, "DATA": data}).json()["result"]
    assert portal.connector_data[("b24sms", line)] == data
    call(portal, "imconnector.activate", {"CONNECTOR": "b24sms", "LINE": line, "ACTIVE": 0})
    assert call(portal, "imconnector.status", {"CONNECTOR": "b24sms", "LINE": line}).json()["result"]["STATUS"] is False
    lines = call(portal, "imopenlines.config.list.get").json()["result"]
    assert [c["ID"] for c in lines] == ["1", line]


def test_send_messages_checks_its_arguments_line_and_provider(portal: EmulatedPortal):
    missing_line = call(portal, "imconnector.send.messages", {"CONNECTOR": "b24sms", "MESSAGES": [entry("m1")]})
    assert error(missing_line) == (400, "ERROR_ARGUMENT")
    assert missing_line.json()["error_description"] == "Argument 'LINE' is null or empty"
    assert error(send(portal, entry("m1"))) == (400, "ERROR_NO_CORRECT_PROVIDER")
    register(portal)
    assert error(send(portal, entry("m1"))) == (400, "NOT_ACTIVE_LINE")  # registered, not yet activated
    assert portal.chats == {}


def test_send_creates_one_chat_and_keeps_a_message_sent_twice_once(emu: PortalEmulator, portal: EmulatedPortal):
    connected(portal)
    first = send(portal, entry("m1", "hello"))
    assert first.status_code == 200, first.text
    result = first.json()["result"]
    assert result["SUCCESS"] is True
    [sent] = result["DATA"]["RESULT"]
    chat = emu.chat_for(portal, "b24sms", "1", "+15550001111")
    assert chat is not None
    assert sent == {
        "user": str(chat.user_id),
        "message": [chat.messages["m1"].message_id],
        "chat": [chat.chat_id],
        "session": {"ID": chat.session_id, "CHAT_ID": chat.chat_id},
        "SUCCESS": True,
        "ERRORS": [],
    }
    assert chat.user["phone"] == "+15550001111"

    again = send(portal, entry("m1", "hello")).json()["result"]["DATA"]["RESULT"][0]
    assert again["message"] == sent["message"] and again["chat"] == sent["chat"]
    send(portal, entry("m2", "second"))
    assert list(portal.chats) == [("b24sms", "1", "+15550001111")]
    assert [m.external_id for m in chat.messages.values()] == ["m1", "m2"]
    assert chat.texts() == ["hello", "second"]
    assert chat.messages["m1"].message_id != chat.messages["m2"].message_id

    send(portal, entry("m1", "other chat", chat="+15550002222", user="+15550002222"))
    assert len(portal.chats) == 2


def test_one_bad_message_does_not_fail_the_others(emu: PortalEmulator, portal: EmulatedPortal):
    connected(portal)
    bad = entry("m2")
    del bad["chat"]["id"]
    result = send(portal, entry("m1"), bad).json()["result"]
    ok, failed = result["DATA"]["RESULT"]
    assert result["SUCCESS"] is True and ok["SUCCESS"] is True
    assert failed["SUCCESS"] is False and failed["ERRORS"]
    chat = emu.chat_for(portal, "b24sms", 1, "+15550001111")
    assert chat is not None and list(chat.messages) == ["m1"]


def test_json_bodies_and_batch_reach_the_same_methods(emu: PortalEmulator, portal: EmulatedPortal):
    connected(portal)
    body = {"CONNECTOR": "b24sms", "LINE": 1, "MESSAGES": [entry("j1", "over json")]}
    assert call(portal, "imconnector.send.messages", body, as_json=True).json()["result"]["SUCCESS"] is True
    query = encode_form({"CONNECTOR": "b24sms", "LINE": "1", "MESSAGES": [entry("b1", "in batch")]})
    command = f"imconnector.send.messages?{query}"
    batch = call(portal, "batch", {"halt": 0, "cmd": {"a": command}}).json()["result"]
    assert batch["result"]["a"]["DATA"]["RESULT"][0]["SUCCESS"] is True
    chat = emu.chat_for(portal, "b24sms", "1", "+15550001111")
    assert chat is not None and chat.texts() == ["over json", "in batch"]


def test_update_changes_the_text_and_keeps_the_history(emu: PortalEmulator, portal: EmulatedPortal):
    connected(portal)
    send(portal, entry("m1", "first words"))
    updated = send(portal, entry("m1", "second words"), method="imconnector.update.messages").json()["result"]
    [answer] = updated["DATA"]["RESULT"]
    assert answer["SUCCESS"] is True and answer["message"]["text"] == "second words"
    chat = emu.chat_for(portal, "b24sms", "1", "+15550001111")
    assert chat is not None
    assert chat.messages["m1"].text == "second words"
    assert chat.messages["m1"].history == ["first words", "second words"]
    assert len(chat.messages) == 1

    unknown = send(portal, entry("nope", "x"), method="imconnector.update.messages").json()["result"]["DATA"]["RESULT"][0]
    assert unknown["SUCCESS"] is False and unknown["ERRORS"] == ["Message not found"]

    deleted = send(portal, entry("m1"), method="imconnector.delete.messages").json()["result"]["DATA"]["RESULT"][0]
    assert deleted["SUCCESS"] is True and chat.messages["m1"].deleted
    assert chat.texts() == []


def test_status_delivery_and_reading_mark_an_operator_message(emu: PortalEmulator, portal: EmulatedPortal, app: App):
    connected(portal)
    send(portal, entry("m1"))
    call(portal, "event.bind", {"event": "OnImConnectorMessageAdd", "handler": f"{app.url}/bitrix/imconnector"})
    message_id, _ = emu.operator_reply(portal, "b24sms", "1", "+15550001111", "We are on it")
    chat = emu.chat_for(portal, "b24sms", "1", "+15550001111")
    assert chat is not None
    reply = chat.operator_messages[message_id]
    assert (reply.text, reply.delivered, reply.read) == ("We are on it", False, False)

    im = {"chat_id": chat.chat_id, "message_id": message_id}
    status = {"im": im, "message": {"id": ["SM123"]}, "chat": {"id": "+15550001111"}}
    delivered = call(portal, "imconnector.send.status.delivery", {"CONNECTOR": "b24sms", "LINE": "1", "MESSAGES": [status]})
    assert delivered.json()["result"]["DATA"]["RESULT"][0]["SUCCESS"] is True
    assert reply.delivered and not reply.read and reply.external_ids == ["SM123"]

    call(portal, "imconnector.send.status.reading", {"CONNECTOR": "b24sms", "LINE": "1", "MESSAGES": [status]})
    assert reply.read

    unknown = {**status, "im": {"chat_id": chat.chat_id, "message_id": 1}}
    answer = call(portal, "imconnector.send.status.delivery", {"CONNECTOR": "b24sms", "LINE": "1", "MESSAGES": [unknown]})
    assert answer.status_code == 200 and answer.json()["result"]["DATA"]["RESULT"][0]["SUCCESS"] is False


def test_without_the_imconnector_scope_the_methods_are_refused(portal: EmulatedPortal):
    portal.scopes.discard("imconnector")
    refused = register(portal)
    assert error(refused) == (401, "insufficient_scope")
    assert refused.json()["error_description"] == "The request requires higher privileges than provided by the access token."
    batch = call(portal, "batch", {"cmd": {"a": "imconnector.list"}}).json()["result"]
    assert batch["result_error"]["a"]["error"] == "insufficient_scope"


def test_the_scopes_show_in_tokens_and_auth(emu: PortalEmulator, portal: EmulatedPortal):
    assert portal.scope == "messageservice,crm,im,imconnector,imopenlines"
    refresh = next(iter(portal.refresh_tokens))
    token = {"grant_type": "refresh_token", "client_id": emu.client_id, "client_secret": emu.client_secret}
    token["refresh_token"] = refresh
    answer = requests.get(f"{emu.oauth_url}/oauth/token/", params=token, timeout=10).json()
    assert answer["scope"] == "app,messageservice,crm,im,imconnector,imopenlines"


def test_operator_reply_posts_the_event_as_bitrix24_does(emu: PortalEmulator, portal: EmulatedPortal, app: App):
    connected(portal)
    send(portal, entry("m1"))
    with pytest.raises(RuntimeError):
        emu.operator_reply(portal, "b24sms", "1", "+15550001111", "nobody listens")
    handler = f"{app.url}/bitrix/imconnector"
    assert call(portal, "event.bind", {"event": "OnImConnectorMessageAdd", "handler": handler}).json()["result"] is True
    assert portal.events["ONIMCONNECTORMESSAGEADD"] == handler
    with pytest.raises(RuntimeError):
        emu.operator_reply(portal, "b24sms", "1", "+15559999999", "no such chat")

    message_id, response = emu.operator_reply(portal, "b24sms", "1", "+15550001111", "Hello & welcome", user_id="7")
    assert response.status_code == 200
    method, path, headers, body = app.requests[-1]
    assert (method, path) == ("POST", "/bitrix/imconnector")
    assert headers["content-type"] == "application/x-www-form-urlencoded"
    raw = parse_qs(body.decode())
    assert raw["data[MESSAGES][0][message][text]"] == ["Hello & welcome"]
    assert raw["data[MESSAGES][0][chat][id]"] == ["+15550001111"]

    chat = emu.chat_for(portal, "b24sms", "1", "+15550001111")
    assert chat is not None
    form = app.form()
    assert form["event"] == "ONIMCONNECTORMESSAGEADD"
    assert form["event_handler_id"]
    assert int(form["ts"]) > 0
    assert form["data"] == {
        "CONNECTOR": "b24sms",
        "LINE": "1",
        "MESSAGES": [
            {
                "im": {"chat_id": str(chat.chat_id), "message_id": str(message_id)},
                "message": {"user_id": "7", "text": "Hello & welcome"},
                "chat": {"id": "+15550001111"},
            }
        ],
    }
    auth = form["auth"]
    assert auth["domain"] == portal.domain
    assert auth["client_endpoint"] == portal.client_endpoint
    assert auth["server_endpoint"] == portal.server_endpoint
    assert auth["member_id"] == portal.member_id
    assert auth["application_token"] == portal.application_token
    assert auth["access_token"] in portal.access_tokens
    assert auth["scope"] == portal.scope


def test_line_and_status_deletion_reach_the_app(emu: PortalEmulator, portal: EmulatedPortal, app: App):
    connected(portal)
    line = portal.add_line()
    call(portal, "imconnector.activate", {"CONNECTOR": "b24sms", "LINE": line, "ACTIVE": 1})
    assert emu.delete_line(portal, line) is None  # nothing bound: nothing sent
    for event in ("OnImConnectorLineDelete", "OnImConnectorStatusDelete"):
        assert call(portal, "event.bind", {"event": event, "handler": f"{app.url}/events"}).json()["result"] is True
    other = portal.add_line()
    call(portal, "imconnector.activate", {"CONNECTOR": "b24sms", "LINE": other, "ACTIVE": 1})

    response = emu.delete_line(portal, other)
    assert response is not None and response.status_code == 200
    form = app.form()
    assert (form["event"], form["data"]) == ("ONIMCONNECTORLINEDELETE", other)
    assert other not in portal.lines and not portal.is_active("b24sms", other)
    assert error(send(portal, entry("m1"), line=other)) == (400, "NOT_ACTIVE_LINE")

    assert emu.delete_connector_status(portal, "b24sms", "1") is not None
    form = app.form()
    assert (form["event"], form["data"]) == ("ONIMCONNECTORSTATUSDELETE", {"connector": "b24sms", "line": "1"})
    assert form["auth"]["member_id"] == portal.member_id
    assert not portal.is_active("b24sms", "1")


def test_open_connector_settings_posts_the_placement(emu: PortalEmulator, portal: EmulatedPortal, app: App):
    register(portal, PLACEMENT_HANDLER=f"{app.url}/bitrix/connector")
    response = emu.open_connector_settings(portal, "b24sms", "1")
    assert response.status_code == 200
    method, path, _, _ = app.requests[-1]
    query = dict(parse_qs(urlsplit(path).query))
    assert method == "POST" and urlsplit(path).path == "/bitrix/connector"
    assert {k: v[0] for k, v in query.items() if k != "APP_SID"} == {"DOMAIN": portal.domain, "PROTOCOL": "1", "LANG": "en"}
    form = app.form()
    assert form["PLACEMENT"] == "SETTING_CONNECTOR"
    assert json.loads(form["PLACEMENT_OPTIONS"]) == {"LINE": 1, "ACTIVE_STATUS": 1, "CONNECTOR": "b24sms"}
    assert form["AUTH_ID"] in portal.access_tokens and form["REFRESH_ID"] in portal.refresh_tokens
    assert form["member_id"] == portal.member_id


@pytest.mark.parametrize("as_json", [False, True])
def test_status_delivery_refuses_a_message_id_that_is_not_an_array(emu: PortalEmulator, portal: EmulatedPortal, as_json: bool):
    connected(portal)
    send(portal, entry("m1"))
    chat = emu.chat_for(portal, "b24sms", "1", "+15550001111")
    assert chat is not None
    im = {"chat_id": chat.chat_id, "message_id": chat.messages["m1"].message_id}
    wrong: Any
    for wrong in ("SM123", "", []):
        status = {"im": im, "message": {"id": wrong}, "chat": {"id": "+15550001111"}}
        answer = call(
            portal, "imconnector.send.status.delivery", {"CONNECTOR": "b24sms", "LINE": "1", "MESSAGES": [status]}, as_json
        )
        [row] = answer.json()["result"]["DATA"]["RESULT"]
        assert row["SUCCESS"] is False and "message[id]" in row["ERRORS"][0], wrong
    assert not chat.messages["m1"].delivered
    right = {"im": im, "message": {"id": ["SM123"]}, "chat": {"id": "+15550001111"}}
    answer = call(portal, "imconnector.send.status.delivery", {"CONNECTOR": "b24sms", "LINE": "1", "MESSAGES": [right]}, as_json)
    assert answer.json()["result"]["DATA"]["RESULT"][0]["SUCCESS"] is True and chat.messages["m1"].delivered
