"""The emulator's REST room without HTTP: the method table, batch, and what every call goes through."""

from __future__ import annotations

import time

import pytest

from local.emulator import imconnector, rest
from local.emulator.params import RestError
from local.emulator.state import EmulatedPortal, EmulatorState

# Every method the portal emulator answered before its methods became a table (the old if-chain).
OLD_CHAIN = {
    "messageservice.sender.add",
    "messageservice.sender.update",
    "messageservice.sender.delete",
    "messageservice.sender.list",
    "messageservice.message.status.update",
    "event.bind",
    "event.unbind",
    "app.info",
    "imconnector.register",
    "imconnector.unregister",
    "imconnector.list",
    "imconnector.activate",
    "imconnector.status",
    "imconnector.connector.data.set",
    "imconnector.send.messages",
    "imconnector.update.messages",
    "imconnector.delete.messages",
    "imconnector.send.status.delivery",
    "imconnector.send.status.reading",
    "imopenlines.config.list.get",
    "imopenlines.config.get",
}
HANDLER = "https://app.example.com/bitrix/handler"


@pytest.fixture
def portal() -> EmulatedPortal:
    p = EmulatorState().add_portal("p")
    p.access_tokens["tok"] = time.time() + 3600
    return p


def serve(portal: EmulatedPortal, method: str, **params: object) -> object:
    return rest.serve(portal, method, {"auth": "tok", **params})


def refused(portal: EmulatedPortal, method: str, **params: object) -> tuple[int, str]:
    with pytest.raises(RestError) as caught:
        serve(portal, method, **params)
    return caught.value.status, caught.value.code


def test_the_table_lists_exactly_the_methods_the_old_chain_answered():
    # + the application page's, event.get (what the app checks after an application update), and the
    # CRM timeline and notifications (local/emulator/crm.py)
    crm = {"crm.duplicate.findbycomm", "crm.timeline.logmessage.add", "im.notify.system.add"}
    assert set(rest.METHODS) == OLD_CHAIN | {"user.current", "user.admin", "event.get"} | crm
    assert all(name == name.lower() for name in rest.METHODS)  # the server lower-cases the method
    assert set(imconnector.METHODS) <= set(rest.METHODS)
    assert "batch" not in rest.METHODS  # the envelope, not a method: inside a batch it is not found


def test_an_unknown_method_is_not_found_alone_and_in_a_batch(portal: EmulatedPortal):
    assert refused(portal, "crm.contact.list") == (404, "ERROR_METHOD_NOT_FOUND")
    assert refused(portal, "imopenlines.session.start") == (404, "ERROR_METHOD_NOT_FOUND")
    answer = serve(portal, "batch", cmd={"a": "crm.contact.list", "b": "batch", "c": "app.info"})
    assert isinstance(answer, dict)
    assert {k: v["error"] for k, v in answer["result_error"].items()} == {
        "a": "ERROR_METHOD_NOT_FOUND",
        "b": "ERROR_METHOD_NOT_FOUND",
    }
    assert answer["result"]["c"]["CODE"] == "local.app"


def test_a_method_of_a_scope_not_granted_is_refused_before_it_is_looked_up(portal: EmulatedPortal):
    portal.scopes.discard("messageservice")
    assert refused(portal, "messageservice.sender.list") == (401, "insufficient_scope")
    assert refused(portal, "messageservice.nonexistent") == (401, "insufficient_scope")
    assert serve(portal, "app.info") == {"ID": 1, "CODE": "local.app", "VERSION": 1, "STATUS": "L", "INSTALLED": False}


def test_tokens_are_checked_before_anything_else(portal: EmulatedPortal):
    assert refused(portal, "app.info", auth="") == (401, "NO_AUTH_FOUND")
    assert refused(portal, "app.info", auth="other") == (401, "invalid_token")
    portal.expire_tokens()
    assert refused(portal, "app.info") == (401, "expired_token")
    assert [(c.method, c.status, c.error) for c in portal.calls][-1] == ("app.info", 401, "expired_token")


def test_the_bucket_leaks_and_fail_next_answers_what_a_test_queued(portal: EmulatedPortal):
    portal.burst, portal.rate = 2.0, 0.0
    portal.fail_next(1, 503, "OPERATION_TIME_LIMIT")
    assert refused(portal, "app.info") == (503, "OPERATION_TIME_LIMIT")  # the fault is spent after the bucket
    assert serve(portal, "app.info")
    assert refused(portal, "app.info") == (503, "QUERY_LIMIT_EXCEEDED")
    assert portal.limit_exceeded == 1


def test_a_batch_may_refuse_messageservice_and_has_a_length_limit(portal: EmulatedPortal):
    serve(portal, "messageservice.sender.add", CODE="b24sms", NAME="SMS", TYPE="SMS", HANDLER=HANDLER)
    portal.batch_allows_messageservice = False
    answer = serve(portal, "batch", cmd=["messageservice.sender.list", "event.bind?event=onappuninstall&handler=h"])
    assert isinstance(answer, dict)
    assert answer["result_error"] == {
        "0": {"error": "ERROR_BATCH_METHOD_NOT_ALLOWED", "error_description": "Method is not allowed for batch usage"}
    }
    assert answer["result"] == {"1": True} and portal.events == {"ONAPPUNINSTALL": "h"}
    assert [c.in_batch for c in portal.calls[-2:]] == [True, True]
    assert refused(portal, "batch", cmd={str(i): "app.info" for i in range(51)}) == (400, "ERROR_BATCH_LENGTH_EXCEEDED")


def test_sender_add_validates_as_the_portal_does(portal: EmulatedPortal):
    good = {"CODE": "b24sms", "NAME": "SMS", "TYPE": "SMS", "HANDLER": HANDLER}
    assert refused(portal, "messageservice.sender.add", **{**good, "CODE": "b24 sms"}) == (400, "ERROR_SENDER_VALIDATION_FAILURE")
    assert refused(portal, "messageservice.sender.add", **{**good, "TYPE": "MMS"}) == (400, "ERROR_SENDER_VALIDATION_FAILURE")
    assert refused(portal, "messageservice.sender.add", **{**good, "HANDLER": "ftp://a.b/c"}) == (
        400,
        "ERROR_UNSUPPORTED_PROTOCOL",
    )
    assert refused(portal, "messageservice.sender.add", **{**good, "HANDLER": "http://localhost/c"}) == (
        400,
        "ERROR_WRONG_HANDLER_URL",
    )
    assert portal.senders == {}
    assert serve(portal, "messageservice.sender.add", **good) is True
    assert refused(portal, "messageservice.sender.add", **good) == (400, "ERROR_SENDER_ALREADY_INSTALLED")


def test_status_update_keeps_a_timeline_without_repeats(portal: EmulatedPortal):
    serve(portal, "messageservice.sender.add", CODE="b24sms", NAME="SMS", TYPE="SMS", HANDLER=HANDLER)
    portal.messages["m1"] = ["sent"]
    for status in ("delivered", "delivered", "sent"):
        assert serve(portal, "messageservice.message.status.update", CODE="b24sms", MESSAGE_ID="m1", STATUS=status) is True
    assert portal.timeline("m1") == ["sent", "delivered", "sent"]
    update = {"CODE": "b24sms", "MESSAGE_ID": "m1", "STATUS": "read"}
    assert refused(portal, "messageservice.message.status.update", **update) == (400, "ERROR_MESSAGE_STATUS_INCORRECT")
    update = {"CODE": "b24sms", "MESSAGE_ID": "m2", "STATUS": "sent"}
    assert refused(portal, "messageservice.message.status.update", **update) == (400, "ERROR_MESSAGE_NOT_FOUND")


def test_user_current_and_user_admin_answer_for_the_tokens_owner(portal: EmulatedPortal):
    """The application's page asks who opened it: the answer depends on whose token it is."""
    admin_token, _ = portal.issue_tokens("1")
    user_token, _ = portal.issue_tokens("2")
    assert rest.serve(portal, "user.current", {"auth": admin_token})["ID"] == "1"
    assert rest.serve(portal, "user.admin", {"auth": admin_token}) is True
    assert rest.serve(portal, "user.current", {"auth": user_token}) == {"ID": "2", "NAME": "Oleg", "LAST_NAME": "Manager"}
    assert rest.serve(portal, "user.admin", {"auth": user_token}) is False
    with pytest.raises(RestError):
        rest.serve(portal, "user.current", {"auth": "unknown"})
