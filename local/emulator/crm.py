"""The portal's CRM and notifications, as far as the app uses them: leads, contacts and companies with
phone numbers and a timeline each, ``crm.duplicate.findbycomm``, ``crm.timeline.logmessage.add`` and
``im.notify.system.add``, as a table from method name to function (``METHODS``), with the shapes and
error codes of ``/work/shared/reference/bitrix24.md`` (CRM timeline and notifications).

- ``crm.duplicate.findbycomm``: ``type`` PHONE or EMAIL, ``values`` at most 20, ``entity_type`` one of
  LEAD, CONTACT, COMPANY (else all three); answers ``{"LEAD": [ids], "CONTACT": [...]}`` with only the
  types found (``[]`` when nothing: PHP's empty array). A phone matches when its digits are the
  value's digits, so ``+1 555 017 0001`` and ``(555) 017-0001`` are two different values, as in a
  portal whose numbers were typed in national form;
- ``crm.timeline.logmessage.add``: ``fields{entityTypeId, entityId, title, text, iconCode}``, all
  required (error ``100``); an item that does not exist: ``OWNER_NOT_FOUND``; one the app may not edit
  (``CrmItem.locked``): ``ACCESS_DENIED``; answers ``{"logMessage": {...}}``;
- ``im.notify.system.add``: ``USER_ID``, ``MESSAGE`` required (``USER_ID_EMPTY``, ``MESSAGE_EMPTY``);
  a notification with the same ``TAG`` for the same user replaces the earlier one; answers its id.
"""

from __future__ import annotations

import re
import time
from typing import Any

from local.emulator.params import Method, RestError, as_list, to_int
from local.emulator.state import ENTITY_TYPES

MAX_VALUES = 20


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


def findbycomm(portal: Any, params: dict[str, Any]) -> Any:
    kind = str(params.get("type") or "").upper()
    if kind not in ("PHONE", "EMAIL"):
        raise RestError(400, "ERROR_ARGUMENT", "Communication type is not defined or not supported")
    values = [str(v) for v in as_list(params.get("values"))]
    if not values:
        raise RestError(400, "ERROR_ARGUMENT", "Communication values are not defined")
    if len(values) > MAX_VALUES:
        raise RestError(400, "ERROR_ARGUMENT", f"Too many communication values: {MAX_VALUES} at most")
    wanted = str(params.get("entity_type") or "").upper()
    types = {wanted: ENTITY_TYPES[wanted]} if wanted in ENTITY_TYPES else ENTITY_TYPES
    digits = {_digits(v) for v in values} - {""}
    found: dict[str, list[int]] = {}
    if kind == "PHONE":
        for name, type_id in types.items():
            ids = sorted(
                item.entity_id
                for item in portal.crm.values()
                if item.entity_type_id == type_id and digits & {_digits(p) for p in item.phones}
            )
            if ids:
                found[name] = ids[:MAX_VALUES]
    return found or []


def logmessage_add(portal: Any, params: dict[str, Any]) -> Any:
    fields = params.get("fields")
    fields = fields if isinstance(fields, dict) else {}
    missing = [k for k in ("entityTypeId", "entityId", "title", "text", "iconCode") if not str(fields.get(k) or "")]
    if missing:
        raise RestError(400, "100", f"Required fields are missing: {', '.join(missing)}")
    item = portal.crm.get((to_int(fields["entityTypeId"]), to_int(fields["entityId"])))
    if item is None:
        raise RestError(400, "OWNER_NOT_FOUND", "Owner entity was not found")
    if item.locked:
        raise RestError(403, "ACCESS_DENIED", "Access denied")
    entry = {
        "id": portal.new_id(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
        "authorId": 1,
        "title": str(fields["title"]),
        "text": str(fields["text"]),
        "iconCode": str(fields["iconCode"]),
    }
    item.timeline.append(entry)
    return {"logMessage": entry}


def notify_system_add(portal: Any, params: dict[str, Any]) -> Any:
    user_id = to_int(params.get("USER_ID"))
    if user_id <= 0:
        raise RestError(400, "USER_ID_EMPTY", "Recipient user id can't be empty")
    message = str(params.get("MESSAGE") or "")
    if not message:
        raise RestError(400, "MESSAGE_EMPTY", "Message can't be empty")
    tag = str(params.get("TAG") or "")
    if tag:
        portal.notifications[:] = [n for n in portal.notifications if not (n["USER_ID"] == user_id and n["TAG"] == tag)]
    notification = {
        "ID": portal.new_id(),
        "USER_ID": user_id,
        "MESSAGE": message,
        "MESSAGE_OUT": str(params.get("MESSAGE_OUT") or ""),
        "TAG": tag,
        "SUB_TAG": str(params.get("SUB_TAG") or ""),
    }
    portal.notifications.append(notification)
    return notification["ID"]


METHODS: dict[str, Method] = {
    "crm.duplicate.findbycomm": findbycomm,
    "crm.timeline.logmessage.add": logmessage_add,
    "im.notify.system.add": notify_system_add,
}
