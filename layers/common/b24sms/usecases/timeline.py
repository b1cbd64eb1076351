"""What happened to a number or an SMS, on the CRM items it concerns (issue #20 items 1 and 2), as
portal jobs (``portal_jobs``: made in the portal's push turn after its bitrix_statuses, never lost):

- an opt-out or opt-in (STOP/START, a carrier's opt-out refusal, the page): the leads, contacts and
  companies with that phone (``crm.duplicate.findbycomm``, the number in the forms a user may have typed
  it, one call per type so one type's 20 matches do not hide the others) each get one
  ``crm.timeline.logmessage.add`` entry, in the portal's language; one job per opt-out event;
- an SMS that ends ``undelivered`` or ``failed``: one entry on each item of the HANDLER call's
  ``bindings``, with the error code and its plain explanation (the carrier ``SPEC``'s text, as the page
  shows it), the number masked and the sender; ``delivered`` too when the portal asks for it.

Everything needs the ``crm`` scope: a portal that did not grant it gets no job (said once in the logs).
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from aws_lambda_powertools import Logger

from b24sms.adapters import carriers
from b24sms.adapters.store.jobs import Call
from b24sms.domain import bitrix_statuses, phones
from b24sms.domain.models import Message, Portal
from b24sms.domain.privacy import mask_phone
from b24sms.usecases import portal_jobs

logger = Logger(child=True)

SCOPE = "crm"
ICON = "info"
ENTITY_TYPES = ("LEAD", "CONTACT", "COMPANY")
TYPE_IDS = {"LEAD": 1, "CONTACT": 3, "COMPANY": 4}
FOLLOW_UP = "timeline.optout"
_WARNED: set[str] = set()  # portals told about the missing scope in this process's logs

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "out.title": "SMS opt-out",
        "in.title": "SMS opt-in",
        "out.reply": "Opted out of SMS on {date}: replied {word} to {sender}",
        "in.reply": "Opted back in to SMS on {date}: replied {word} to {sender}",
        "out.carrier": "Opted out of SMS on {date}: the carrier refuses to send to this number ({code})",
        "out.page": "Opted out of SMS on {date}: added by hand on the SMS app's page",
        "in.page": "Opted back in to SMS on {date}: removed from the opt-outs on the SMS app's page",
        "failed.title": "SMS not sent",
        "undelivered.title": "SMS not delivered",
        "delivered.title": "SMS delivered",
        "failure": "SMS to {phone} from {sender}: {code}, {reason}",
        "delivered": "SMS to {phone} from {sender} delivered",
        "no_reason": "the carrier gave no reason",
    },
    "ru": {
        "out.title": "Отказ от SMS",
        "in.title": "Согласие на SMS",
        "out.reply": "Отказался от SMS {date}: ответил {word} на номер {sender}",
        "in.reply": "Снова согласен на SMS {date}: ответил {word} на номер {sender}",
        "out.carrier": "Отказался от SMS {date}: оператор не отправляет SMS на этот номер ({code})",
        "out.page": "Отказался от SMS {date}: добавлен вручную на странице приложения SMS",
        "in.page": "Снова согласен на SMS {date}: убран из отказов на странице приложения SMS",
        "failed.title": "SMS не отправлено",
        "undelivered.title": "SMS не доставлено",
        "delivered.title": "SMS доставлено",
        "failure": "SMS на {phone} от {sender}: {code}, {reason}",
        "delivered": "SMS на {phone} от {sender} доставлено",
        "no_reason": "оператор не сообщил причину",
    },
}
# Our own codes (not a carrier's): what the page's catalogue says of them, for the timeline.
OWN_REASONS: dict[str, dict[str, str]] = {
    "OPTED_OUT": {"en": "the recipient opted out (replied STOP)", "ru": "получатель отказался от SMS (ответил STOP)"},
    "INVALID_NUMBER": {"en": "not a valid phone number", "ru": "номер телефона неверен"},
    "TOO_MANY_SEGMENTS": {"en": "the message is too long", "ru": "сообщение слишком длинное"},
    "DISPATCH_INTERRUPTED": {
        "en": "the send was interrupted; it was not repeated so as not to send twice",
        "ru": "отправка прервалась; она не повторена, чтобы не отправить дважды",
    },
}


def _lang(portal: Portal) -> str:
    return "ru" if portal.lang in ("ru", "ua", "by", "kz") else "en"


def _text(portal: Portal, key: str, **values: str) -> str:
    return TEXTS[_lang(portal)][key].format(**values)


def _date(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(at))


def _granted(portal: Portal) -> bool:
    if portal.has_scope(SCOPE):
        return True
    if portal.member_id not in _WARNED:
        _WARNED.add(portal.member_id)
        logger.warning(
            "CRM timeline entries skipped: the portal did not grant the crm scope", extra={"member_id": portal.member_id}
        )
    return False


def opted(portal: Portal, phone: str, out: bool, source: str, replied_to: str = "", at: float | None = None) -> bool:
    """An opt-out (``out``) or opt-in of ``phone`` (E.164) just recorded: a job to write it on the
    timeline of every lead, contact and company with that number. ``source``: ``<carrier>:STOP``,
    ``<carrier>:START``, ``page`` or a carrier's opt-out code. False: no job (no scope, no table)."""
    if not _granted(portal):
        return False
    at = time.time() if at is None else at
    word = source.split(":", 1)[1] if ":" in source else ""
    if word:
        text = _text(portal, "out.reply" if out else "in.reply", date=_date(at), word=word, sender=replied_to or "?")
    elif source == "page":
        text = _text(portal, "out.page" if out else "in.page", date=_date(at))
    else:
        text = _text(portal, "out.carrier", date=_date(at), code=source)
    values = phones.search_forms(phone)
    calls: list[Call] = [
        ("crm.duplicate.findbycomm", {"type": "PHONE", "values": values, "entity_type": kind}) for kind in ENTITY_TYPES
    ]
    data = {"title": _text(portal, "out.title" if out else "in.title"), "text": text}
    # the job's id is logged: the number only as a digest
    digest = hashlib.sha256(phone.encode()).hexdigest()[:16]
    job_id = f"{'optout' if out else 'optin'}#{digest}#{int(at * 1000)}"
    return portal_jobs.add(portal.member_id, job_id, calls, then=FOLLOW_UP, data=data, scope=SCOPE)


def _entries(portal: Portal, data: dict[str, Any], results: dict[int, Any]) -> list[Call]:
    """The follow-up of an opt-out job: one timeline entry on each item ``findbycomm`` found."""
    found: list[tuple[int, int]] = []
    for result in results.values():
        for kind, ids in result.items() if isinstance(result, dict) else []:
            if kind in TYPE_IDS and isinstance(ids, list):
                found += [(TYPE_IDS[kind], int(i)) for i in ids if str(i).isdigit()]
    return [_entry(type_id, item_id, str(data["title"]), str(data["text"])) for type_id, item_id in dict.fromkeys(found)]


portal_jobs.register(FOLLOW_UP, _entries)


def _entry(type_id: int, item_id: int, title: str, text: str) -> Call:
    fields = {"entityTypeId": type_id, "entityId": item_id, "title": title, "text": text, "iconCode": ICON}
    return ("crm.timeline.logmessage.add", {"fields": fields})


def reason(portal: Portal, message: Message) -> str:
    """The plain explanation of a message's error, as the page shows it: the carrier SPEC's text for
    its code, ours for our own codes, else what was recorded (already masked)."""
    lang = _lang(portal)
    code = message.error_code
    texts = carriers.page_texts(lang)
    if code and f"err.{code}" in texts:
        return texts[f"err.{code}"]
    if code in OWN_REASONS:
        return OWN_REASONS[code][lang]
    return message.error_message or _text(portal, "no_reason")


def ended(portal: Portal, message: Message, delivered_too: bool = False) -> bool:
    """A message that has just ended (its final status pushed): for ``undelivered``/``failed`` (and
    ``delivered`` with ``delivered_too``) a job writing it on every item of its bindings. Kept without
    waking the push: the caller makes it in the same turn. False: nothing to write or no scope."""
    if not message.bindings or message.status not in bitrix_statuses.FINAL:
        return False
    if message.status == bitrix_statuses.DELIVERED and not delivered_too:
        return False
    if not _granted(portal):
        return False
    default = carriers.default_sender(message.carrier) if message.carrier else ""
    sender = message.carrier_sender or default or message.code or "?"
    phone = mask_phone(message.sent_to or message.to)
    if message.status == bitrix_statuses.DELIVERED:
        text = _text(portal, "delivered", phone=phone, sender=sender)
    else:
        code = message.error_code or "?"
        text = _text(portal, "failure", phone=phone, sender=sender, code=code, reason=reason(portal, message))
    title = _text(portal, f"{message.status}.title")
    calls = [_entry(type_id, item_id, title, text) for type_id, item_id in message.bindings]
    job_id = f"sms#{message.message_id}#{message.status}"
    return portal_jobs.add(portal.member_id, job_id, calls, scope=SCOPE, wake=False)
