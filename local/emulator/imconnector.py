"""The Open Lines side of an imconnector channel: ``imconnector.*`` and ``imopenlines.*``, as a table
from method name to function (``METHODS``), with the portal's checks and error codes.

One Open Lines chat per (connector, line, external chat id); a message sent twice is kept once;
``send.status.delivery/reading`` want ``message[id]`` as an array, as documented."""

from __future__ import annotations

import re
from typing import Any

from local.emulator.params import Method, RestError, as_list, check_handler, required, to_int
from local.emulator.state import EmulatedChat, EmulatedChatMessage, EmulatedPortal

CONNECTOR_ID = re.compile(r"^[a-z0-9_]+$")


# -- the connector itself -----------------------------------------------------------------------------
def register(portal: EmulatedPortal, params: dict[str, Any]) -> Any:
    connector = required(params, "ID")
    if not CONNECTOR_ID.match(connector):
        raise RestError(400, "ERROR_ARGUMENT", "Argument 'ID' may hold only a-z, 0-9 and _")
    required(params, "NAME")
    icon = params.get("ICON")
    image = str(icon.get("DATA_IMAGE") or "") if isinstance(icon, dict) else ""
    if not image:
        raise RestError(400, "ERROR_ARGUMENT", "Argument 'ICON[DATA_IMAGE]' is null or empty")
    if not image.startswith("data:image/svg+xml"):
        raise RestError(400, "ERROR_ARGUMENT", "Argument 'ICON[DATA_IMAGE]' is not a data:image/svg+xml URI")
    check_handler(required(params, "PLACEMENT_HANDLER"))
    portal.connectors[connector] = dict(params)  # registering the same ID again updates it
    return True


def unregister(portal: EmulatedPortal, params: dict[str, Any]) -> Any:
    connector = required(params, "ID")
    if connector not in portal.connectors:
        raise RestError(400, "ERROR_ARGUMENT", "CONNECTOR not registered")
    del portal.connectors[connector]
    for key in [k for k in portal.active if k[0] == connector]:
        del portal.active[key]
    for key in [k for k in portal.connector_data if k[0] == connector]:
        del portal.connector_data[key]
    return True


def list_connectors(portal: EmulatedPortal, params: dict[str, Any]) -> Any:
    return {cid: str(c.get("NAME") or cid) for cid, c in portal.connectors.items()} or []


# -- the connector on a line: CONNECTOR and LINE are checked first, then the method's own -----------
def _target(params: dict[str, Any]) -> tuple[str, str]:
    return required(params, "CONNECTOR"), required(params, "LINE")


def _known(portal: EmulatedPortal, connector: str, line: str) -> None:
    if connector not in portal.connectors:
        raise RestError(400, "ERROR_ARGUMENT", "CONNECTOR not registered")
    if line not in portal.lines:
        raise RestError(400, "ERROR_ARGUMENT", "The line with this ID does not exist")


def activate(portal: EmulatedPortal, params: dict[str, Any]) -> Any:
    connector, line = _target(params)
    _known(portal, connector, line)
    flag = str(params.get("ACTIVE", "")).strip().lower()
    if flag not in ("1", "0", "y", "n", "true", "false"):
        raise RestError(400, "ERROR_ARGUMENT", "Argument 'ACTIVE' must be 1 or 0")
    portal.active[(connector, line)] = flag in ("1", "y", "true")
    return True


def status(portal: EmulatedPortal, params: dict[str, Any]) -> Any:
    connector, line = _target(params)
    _known(portal, connector, line)
    return {
        "LINE": params["LINE"],
        "CONNECTOR": connector,
        "ERROR": False,
        "CONFIGURED": (connector, line) in portal.active,
        "STATUS": portal.is_active(connector, line),
    }


def data_set(portal: EmulatedPortal, params: dict[str, Any]) -> Any:
    connector, line = _target(params)
    _known(portal, connector, line)
    data = params.get("DATA")
    if not isinstance(data, dict) or not data:
        raise RestError(400, "ERROR_ARGUMENT", "Argument 'DATA' is null or empty")
    portal.connector_data[(connector, line)] = dict(data)
    return True


# -- messages ---------------------------------------------------------------------------------------
def _open_line(portal: EmulatedPortal, params: dict[str, Any]) -> tuple[str, str, list[Any]]:
    """The checks of the message methods, in Bitrix24's order: connector, line and the MESSAGES, as a list."""
    connector, line = _target(params)
    messages = params.get("MESSAGES")
    if isinstance(messages, dict):  # a PHP form list that is not 0..n-1, or a JSON object
        if not all(str(k).isdigit() for k in messages):
            raise RestError(400, "ERROR_ARGUMENT", "Argument 'MESSAGES' is not an array")
        messages = [messages[k] for k in sorted(messages, key=lambda k: int(k))]
    if not messages or not isinstance(messages, list):
        raise RestError(400, "ERROR_ARGUMENT", "Argument 'MESSAGES' is null or empty")
    if connector not in portal.connectors:
        raise RestError(400, "ERROR_NO_CORRECT_PROVIDER", "Failed to find a suitable provider for the connector")
    if line not in portal.lines or not portal.is_active(connector, line):
        raise RestError(400, "NOT_ACTIVE_LINE", "The line with this ID is inactive or does not exist")
    return connector, line, messages


def _parts(entry: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], list[str]]:
    """user{}, message{}, chat{} of a MESSAGES entry and what is wrong with it."""
    entry = entry if isinstance(entry, dict) else {}
    user, message, chat = (entry.get(k) if isinstance(entry.get(k), dict) else {} for k in ("user", "message", "chat"))
    parts = (("user", user), ("message", message), ("chat", chat))
    errors = [f"Argument '{name}[id]' is null or empty" for name, part in parts if not part.get("id")]
    return user, message, chat, errors


def _receive(portal: EmulatedPortal, connector: str, line: str, entry: Any) -> dict[str, Any]:
    user, message, chat_in, errors = _parts(entry)
    files = as_list(message.get("files"))
    if not errors and not str(message.get("text") or "") and not files:
        errors.append("Message text or files are required")
    if errors:
        return {"user": str(user.get("id") or ""), "SUCCESS": False, "ERRORS": errors}
    user_key = (connector, str(user["id"]))
    if user_key not in portal.connector_users:
        portal.connector_users[user_key] = portal.new_id()
    key = (connector, line, str(chat_in["id"]))
    chat = portal.chats.get(key)
    if chat is None:
        user_id = portal.connector_users[user_key]
        chat = EmulatedChat(connector, line, key[2], chat_id=portal.new_id(), session_id=portal.new_id(), user_id=user_id)
        portal.chats[key] = chat
    chat.user.update(user)
    chat.name = str(chat_in.get("name") or chat.name)
    chat.url = str(chat_in.get("url") or chat.url)
    external_id = str(message["id"])
    stored = chat.messages.get(external_id)
    if stored is None:  # the same external id again is the same message: nothing new is recorded
        text = str(message.get("text") or "")
        stored = EmulatedChatMessage(external_id, portal.new_id(), text, files, str(message.get("date") or ""), [text])
        chat.messages[external_id] = stored
    return {
        "user": str(chat.user_id),
        "message": [stored.message_id],
        "chat": [chat.chat_id],
        "session": {"ID": chat.session_id, "CHAT_ID": chat.chat_id},
        "SUCCESS": True,
        "ERRORS": [],
    }


def _find(portal: EmulatedPortal, connector: str, line: str, entry: Any) -> tuple[EmulatedChatMessage | None, dict[str, Any]]:
    """(message, answer) for update/delete: no message and SUCCESS false when it is not there."""
    _, message, chat_in, errors = _parts(entry)
    chat = portal.chats.get((connector, line, str(chat_in.get("id") or "")))
    stored = chat.messages.get(str(message.get("id") or "")) if chat else None
    if not errors and (stored is None or stored.deleted):
        errors = ["Message not found"]
    answer: dict[str, Any] = {
        "user": str(chat.user_id) if chat else "",
        "message": {"id": str(message.get("id") or "")},
        "chat": {"id": str(chat_in.get("id") or "")},
    }
    if chat is not None:
        answer["chat"].update(name=chat.name, description=f"Link to the original post: {chat.url}" if chat.url else "")
    if errors:
        return None, {**answer, "SUCCESS": False, "ERRORS": errors}
    return stored, answer


def _update(portal: EmulatedPortal, connector: str, line: str, entry: Any) -> dict[str, Any]:
    stored, answer = _find(portal, connector, line, entry)
    if stored is None:
        return answer
    message = entry["message"]
    if "text" not in message and "files" not in message:
        return {**answer, "SUCCESS": False, "ERRORS": ["Message text or files are required"]}
    if "text" in message:
        stored.text = str(message.get("text") or "")
    if "files" in message:
        stored.files = as_list(message["files"])
    stored.history.append(stored.text)
    answer["message"].update(date={}, text=stored.text)  # date: PHP's DateTime, json-encoded as {}
    if stored.files:
        answer["message"]["files"] = stored.files
    return {**answer, "SUCCESS": True}


def _delete(portal: EmulatedPortal, connector: str, line: str, entry: Any) -> dict[str, Any]:
    stored, answer = _find(portal, connector, line, entry)
    if stored is None:
        return answer
    stored.deleted = True
    return {**answer, "SUCCESS": True}


def _status(portal: EmulatedPortal, connector: str, line: str, entry: Any, reading: bool) -> dict[str, Any]:
    entry = entry if isinstance(entry, dict) else {}
    im, message, chat_in = (entry.get(k) if isinstance(entry.get(k), dict) else {} for k in ("im", "message", "chat"))
    answer: dict[str, Any] = {"im": im, "message": message, "chat": chat_in}
    chat_id, message_id = to_int(im.get("chat_id")), to_int(im.get("message_id"))
    if not chat_id or not message_id:
        return {**answer, "SUCCESS": False, "ERRORS": ["Argument 'im[chat_id]' or 'im[message_id]' is null or empty"]}
    chats = (c for c in portal.chats.values() if c.chat_id == chat_id and c.connector == connector and c.line == line)
    chat = next(chats, None)
    if chat is None or (chat_in.get("id") and str(chat_in["id"]) != chat.external_id):
        return {**answer, "SUCCESS": False, "ERRORS": ["Chat not found"]}
    reply = chat.operator_messages.get(message_id)
    own = next((m for m in chat.messages.values() if m.message_id == message_id), None)
    if reply is None and own is None:
        return {**answer, "SUCCESS": False, "ERRORS": ["Message not found"]}
    # message[id] is an array of external ids, "even if there is one" (the method's documentation)
    ids = [str(i) for i in as_list(message.get("id")) if str(i)]  # a scalar is no array: no ids
    if not ids:
        return {**answer, "SUCCESS": False, "ERRORS": ["Argument 'message[id]' must be an array of external ids"]}
    if reply is not None:
        reply.delivered = True  # a message read was delivered
        reply.read = reply.read or reading
        reply.external_ids.extend(i for i in ids if i not in reply.external_ids)
    if own is not None:
        own.delivered = True
    return {**answer, "SUCCESS": True}


def _each(portal: EmulatedPortal, params: dict[str, Any], act: Any) -> Any:
    connector, line, messages = _open_line(portal, params)
    return {"SUCCESS": True, "DATA": {"RESULT": [act(portal, connector, line, m) for m in messages]}}


def send_messages(portal: EmulatedPortal, params: dict[str, Any]) -> Any:
    return _each(portal, params, _receive)


def update_messages(portal: EmulatedPortal, params: dict[str, Any]) -> Any:
    return _each(portal, params, _update)


def delete_messages(portal: EmulatedPortal, params: dict[str, Any]) -> Any:
    return _each(portal, params, _delete)


def status_delivery(portal: EmulatedPortal, params: dict[str, Any]) -> Any:
    return _each(portal, params, lambda p, c, line, m: _status(p, c, line, m, reading=False))


def status_reading(portal: EmulatedPortal, params: dict[str, Any]) -> Any:
    return _each(portal, params, lambda p, c, line, m: _status(p, c, line, m, reading=True))


# -- the open lines -----------------------------------------------------------------------------------
def config_list(portal: EmulatedPortal, params: dict[str, Any]) -> Any:
    return [dict(config) for config in portal.lines.values()]


def config_get(portal: EmulatedPortal, params: dict[str, Any]) -> Any:
    line = required(params, "CONFIG_ID")
    if line not in portal.lines:
        raise RestError(400, "CONFIG_NOT_FOUND", "Open line not found")
    return dict(portal.lines[line])


METHODS: dict[str, Method] = {
    "imconnector.register": register,
    "imconnector.unregister": unregister,
    "imconnector.list": list_connectors,
    "imconnector.activate": activate,
    "imconnector.status": status,
    "imconnector.connector.data.set": data_set,
    "imconnector.send.messages": send_messages,
    "imconnector.update.messages": update_messages,
    "imconnector.delete.messages": delete_messages,
    "imconnector.send.status.delivery": status_delivery,
    "imconnector.send.status.reading": status_reading,
    "imopenlines.config.list.get": config_list,
    "imopenlines.config.get": config_get,
}
