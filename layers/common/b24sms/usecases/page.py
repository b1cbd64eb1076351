"""The application's page, its use cases: who is looking (the posted AUTH_ID verified at the portal),
what the page shows (carrier, senders, message log, statistics, opt-outs, Open Lines, audit), and
the changes an administrator makes (carrier and credentials after a Check, senders registered on the
portal, a test SMS, opt-outs). Storage is ``store/page.py``; the session token is ``page_session.py``;
credential checks are ``carriers/checks.py``; who is looking, ``bitrix/users.py``."""

from __future__ import annotations

import calendar
import hashlib
import hmac
import re
import secrets
import time
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger

from b24sms.adapters import carriers, config, store
from b24sms.adapters.bitrix import BitrixError
from b24sms.adapters.bitrix.users import NotConfirmed, call_as_user
from b24sms.adapters.carriers import checks
from b24sms.adapters.config import get_settings
from b24sms.adapters.store import page as page_store
from b24sms.domain import phones, stats
from b24sms.domain.errors import Forbidden, Invalid, NotAuthenticated, NotFound, TryLater
from b24sms.domain.models import CarrierConfig, Message, Portal
from b24sms.domain.privacy import mask_phone
from b24sms.usecases import accept, account_hold, page_session, portal_carriers
from b24sms.usecases.page_session import Session
from b24sms.usecases.replies import OPENLINES_CODE

logger = Logger(child=True)

# Every carrier's own rules (credential fields, sender rule, check) are in its spec (``carriers.spec``);
# this is the page's general rule for a sender: a number, an id or a name.
SENDER = re.compile(r"^(\+[1-9]\d{6,14}|[A-Za-z0-9][A-Za-z0-9 ]{0,10}|MG[0-9a-fA-F]{32}|[\w:/.+-]{1,256})$")
MAX_FIELD = 256
MAX_NAME = 50


class PageError(Invalid):
    """Bad input on the page: ``key`` names the sentence in the page's catalogues."""

    def __init__(self, key: str, **params: str) -> None:
        super().__init__(key, key.replace(".", "_"))
        self.key, self.params = key, params


# -- who is looking --------------------------------------------------------------------------------
def allowed_carriers() -> tuple[str, ...]:
    return config.app_carriers(carriers.known())


def open_page(form: dict[str, Any], query: dict[str, str]) -> tuple[Session, str]:
    """The portal opened the page: the posted AUTH_ID is asked about at the client_endpoint stored at
    install (never the posted DOMAIN): ``user.current`` (who), ``user.admin`` (may they change settings)."""
    auth_id, member_id = str(form.get("AUTH_ID") or ""), str(form.get("member_id") or "")
    if not auth_id or not member_id or len(auth_id) > 512 or len(member_id) > 64:
        raise NotAuthenticated("open the application from the portal: AUTH_ID and member_id are missing", "no_auth")
    portal = store.portals.get_portal(member_id)
    if portal is None or not portal.installed or not portal.client_endpoint:
        raise Forbidden("the application is not installed on this portal", "not_installed")
    user = _portal_call(portal, auth_id, "user.current")
    admin = _portal_call(portal, auth_id, "user.admin")
    if not isinstance(user, dict) or not str(user.get("ID") or ""):
        raise NotAuthenticated("the portal did not confirm who you are", "bad_auth")
    lang = str(query.get("LANG") or portal.lang or "en")[:8]
    session = Session(member_id, str(user["ID"]), admin is True, lang, 0)
    token = page_session.issue(session.member_id, session.user_id, session.admin, lang, install=portal.install_id)
    return page_session.verify(token), token


def _portal_call(portal: Portal, auth_id: str, method: str) -> Any:
    try:
        return call_as_user(portal.client_endpoint, auth_id, method, get_settings().http_timeout)
    except NotConfirmed as exc:
        text = {
            "portal_unreachable": "the portal could not be asked who you are: try again",
            "bad_auth": "the portal did not accept this session: open the application again",
        }[exc.reason]
        raise NotAuthenticated(text, exc.reason) from exc


def portal_of(session: Session) -> Portal:
    """The session's portal, only while it is installed, and only the install the session was issued
    for: an uninstalled portal gets nothing, and a session from before an uninstall nothing after the
    reinstall."""
    portal = store.portals.get_portal(session.member_id)
    if portal is None or not portal.installed:
        raise Forbidden("the application is not installed on this portal", "not_installed")
    if not hmac.compare_digest(session.install.encode(), portal.install_id.encode()):
        raise NotAuthenticated("the page's session is not valid: open the application again", "bad_session")
    return portal


# -- what the page shows ---------------------------------------------------------------------------
@dataclass
class LogRow:
    message: Message
    recipient: str
    source: str
    timeline: list[dict[str, Any]]
    error_key: str


@dataclass
class PageData:
    session: Session
    portal: Portal
    carrier: dict[str, str]
    senders: list[dict[str, str]]
    log: list[LogRow]
    cursor: str
    filters: page_store.LogFilter
    summary: stats.Summary
    opt_outs: list[dict[str, Any]]
    openlines: list[str]
    audit: list[dict[str, Any]]
    carriers: tuple[str, ...] = field(default_factory=tuple)
    forms: list[dict[str, Any]] = field(default_factory=list)  # each carrier's fields (carrier_forms)


def parse_filters(form: dict[str, Any]) -> tuple[page_store.LogFilter, str]:
    def text(name: str, limit: int = 40) -> str:
        value = form.get(name)
        return str(value).strip()[:limit] if isinstance(value, str) else ""

    status = text("status")
    if status and status not in ("queued", "sent", "delivered", "undelivered", "failed"):
        status = ""
    digits = "".join(ch for ch in text("digits") if ch.isdigit())[:15]
    since, until = _day(text("since")), _day(text("until"))
    cursor = form.get("cursor")
    cursor = cursor.strip() if isinstance(cursor, str) else ""
    if cursor and not page_store.is_cursor(cursor):
        raise PageError("bad_cursor")
    return page_store.LogFilter(status, digits, text("sender", 128), since, until + 86399 if until else 0), cursor


def _day(value: str) -> int:

    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return 0
    try:
        return int(calendar.timegm(time.strptime(value, "%Y-%m-%d")))
    except ValueError:
        return 0


def page_data(session: Session, filters: page_store.LogFilter, cursor: str = "") -> PageData:
    portal = portal_of(session)
    try:
        log = page_store.message_log(portal.member_id, filters, cursor=cursor)
    except ValueError as exc:
        raise PageError("bad_cursor") from exc
    return PageData(
        session=session,
        portal=portal,
        carrier=carrier_view(portal.carrier, portal.member_id if session.admin else ""),
        senders=senders_view(portal),
        log=[log_row(m) for m in log.messages],
        cursor=log.cursor,
        filters=filters,
        summary=stats.summarise(page_store.day_counters(portal.member_id)),
        opt_outs=[
            {"phone": mask_phone(o["phone"]), "ref": opt_out_ref(session, o["phone"]), "at": o["at"], "source": o["source"]}
            for o in page_store.opt_outs(portal.member_id)
        ],
        openlines=sorted(portal.openlines),
        audit=page_store.audit_log(portal.member_id),
        carriers=allowed_carriers(),
        forms=carrier_forms(allowed_carriers()),
    )


def carrier_texts(lang: str) -> dict[str, str]:
    """The page's sentences each carrier declares (its name, its fields' labels, its errors) in ``lang``."""
    return carriers.page_texts(lang)


def carrier_forms(names: tuple[str, ...]) -> list[dict[str, Any]]:
    """What the page's carrier form shows for each carrier, as its spec declares it (labels are the
    catalogue's ``carrier.<name>.<field>``, from the same spec: ``carriers.page_texts``)."""
    forms = []
    for name in names:
        spec = carriers.spec(name)
        fields = [{"key": f.key, "secret": f.secret, "choices": f.choices, "placeholder": f.placeholder} for f in spec.fields]
        forms.append({"name": name, "fields": fields, "two_way": spec.two_way})
    return forms


def carrier_view(config: CarrierConfig | None, member_id: str = "") -> dict[str, str]:
    """The carrier settings as the page shows them: never a credential, at most its last 4 characters;
    with ``member_id`` (an administrator is looking) the callback URL to register in the carrier's
    panel, for a carrier that takes one there (SMS.ru)."""
    if config is None:
        return {"carrier": "", "sender": "", "default_country": "", "stored": "", "callback_url": ""}
    stored, callback_url = "", ""
    spec = carriers.specs().get(config.carrier)
    if config.credentials:
        try:
            values = page_store.read_credentials(config.credentials)
            keys = [f.key for f in spec.fields if f.secret] if spec else []
            secret = next((values[k] for k in (*keys, "secret") if values.get(k)), "")
            stored = secret[-4:] if len(secret) >= 8 else "****"
            if member_id and spec and spec.panel_callback_url and values.get(spec.callback_secret):
                callback_url = spec.panel_callback_url(get_settings().public_base_url, member_id, values)
        except Exception:  # unreadable: say nothing about it
            stored = "****"
    view = {"carrier": config.carrier, "sender": config.sender, "default_country": config.default_country, "stored": stored}
    return {**view, "callback_url": callback_url}


def senders_view(portal: Portal) -> list[dict[str, str]]:
    settings = get_settings()
    main_carrier = portal.carrier.carrier if portal.carrier else settings.carrier
    main_sender = portal.carrier.sender if portal.carrier else ""
    rows = [
        {"code": settings.sender_code, "name": settings.sender_name, "carrier": main_carrier, "sender": main_sender, "main": "1"}
    ]
    for code, extra in sorted(portal.senders.items()):
        own = bool(extra.get("carrier"))
        rows.append(
            {
                "code": code,
                "name": extra.get("name", code),
                "carrier": extra.get("carrier") or main_carrier,
                "sender": extra.get("sender", "") if own else main_sender,
                "main": "",
            }
        )
    return rows


def log_row(message: Message) -> LogRow:
    source = "openlines" if message.code == OPENLINES_CODE else "test" if message.message_id.startswith("test-") else "crm"
    timeline = [{"status": "queued", "at": message.created_at}] + [
        {"status": h.get("status", ""), "at": int(h.get("at", 0))} for h in message.history
    ]
    error_key = f"err.{message.error_code}" if message.error_code else ""
    return LogRow(message, mask_phone(message.sent_to or message.to), source, timeline, error_key)


def opt_out_ref(session: Session, phone: str) -> str:
    """An opaque handle of an opted-out number for this session's portal (the page never holds the number)."""
    key = page_session._key()
    return hmac.new(key, f"{session.member_id}:{phone}".encode(), hashlib.sha256).hexdigest()[:24]


# -- carrier settings ------------------------------------------------------------------------------
@dataclass(frozen=True)
class CarrierForm:
    carrier: str
    sender: str
    country: str
    credentials: dict[str, str]


def parse_carrier_form(form: dict[str, Any]) -> CarrierForm:
    def text(name: str) -> str:
        value = form.get(name)
        if value is not None and not isinstance(value, str):
            raise Invalid(f"{name} must be text")
        return (value or "").strip()[:MAX_FIELD]

    carrier = text("carrier")
    if carrier not in allowed_carriers():
        raise PageError("check.unknown_carrier")
    names = [f.key for f in carriers.spec(carrier).fields]
    fields = {k: text(k) for k in names if text(k)}
    return CarrierForm(carrier, text("sender"), text("country").upper(), fields)


def check_carrier(form: CarrierForm, stored: dict[str, str] | None = None) -> dict[str, str]:
    """Validate the settings and ask the carrier about the credentials; the credentials to store.
    Raises PageError saying what is wrong in plain words."""
    if form.country and not phones.is_region(form.country):
        raise PageError("check.bad_country", country=form.country[:8])
    spec = carriers.spec(form.carrier)
    if form.sender and not SENDER.match(form.sender):
        raise PageError("check.bad_sender")
    if form.sender and not spec.sender_ok(form.sender):  # in the carrier's own words, when it has them
        raise PageError(f"carrier.{spec.name}.sender.invalid" if spec.sender_invalid else "check.bad_sender")
    creds = {**(stored or {}), **form.credentials}
    missing = [f.key for f in spec.fields if f.required and not creds.get(f.key)]
    if missing:
        raise PageError("check.missing", fields=", ".join(missing))
    for f in spec.fields:
        value = creds.get(f.key, "")
        if value and ((f.pattern and not re.fullmatch(f.pattern, value)) or (f.choices and value not in f.choices)):
            if f.invalid:  # the carrier's own sentence
                raise PageError(f"carrier.{spec.name}.{f.key}.invalid")
            raise PageError("check.bad_format", field=f.key)
    try:
        checks.check(spec.name, creds, form.sender)
    except checks.CheckFailed as exc:
        raise PageError(f"check.{exc.reason}", carrier=exc.carrier) from exc
    if spec.generates_callback_secret and not creds.get(spec.callback_secret):  # no console shows one: ours
        creds[spec.callback_secret] = secrets.token_urlsafe(24)
    unverifiable = carriers.unverifiable(form.carrier, creds)
    if unverifiable:  # the account is right, but its receipts could never be verified: never taken unsigned
        raise PageError("check.signature_secret", field=unverifiable, carrier=spec.title.get("en", spec.name))
    keys = dict.fromkeys((*(f.key for f in spec.fields), *spec.secret_keys, spec.callback_secret))
    return {k: creds[k] for k in keys if k and creds.get(k)}


def check(session: Session, code: str, form: CarrierForm) -> None:
    """**Check** on the page: the typed credentials, completed by the stored ones of the same carrier
    (write-only fields left empty), against the carrier's API; nothing is saved."""
    session.require_admin()
    portal = portal_of(session)
    current = portal.carrier_for(code)
    stored = {}
    if current and current.credentials and current.carrier == form.carrier:
        stored = page_store.read_credentials(current.credentials)
    check_carrier(form, stored)
    account_hold.release_carrier(portal, form.carrier)  # the account works: its held SMS go at their next turn


def save_carrier(session: Session, form: CarrierForm, code: str = "") -> CarrierConfig:
    """Check, then store: the credentials in a new secret, the settings on the portal (or the sender
    ``code``), and a line in the audit log. Nothing is stored when the check fails."""
    session.require_admin()
    portal = portal_of(session)
    main = get_settings().sender_code
    current = portal.carrier if not code or code == main else portal.carrier_for(code)
    if code and code != main and code not in portal.senders:
        raise PageError("no_sender")
    stored = (
        page_store.read_credentials(current.credentials)
        if current and current.credentials and current.carrier == form.carrier
        else {}
    )
    creds = check_carrier(form, stored)
    account_hold.release_carrier(portal, form.carrier)
    reference = current.credentials if current and creds == stored else ""
    if creds and not reference:
        reference = page_store.put_credentials(portal.member_id, code or main, creds, current.credentials if current else "")
    config = CarrierConfig(form.carrier, form.sender, form.country, reference)
    if not code or code == main:
        portal_carriers.configure(portal.member_id, config, check_secret=False)
    else:
        senders = dict(portal.senders)
        senders[code] = {"name": senders[code].get("name", code), **config.to_item()}
        page_store.save_senders(portal.member_id, senders)
    changes = {"carrier": form.carrier, "sender": form.sender, "country": form.country}
    if form.credentials:
        changes["credentials"] = "changed"
    page_store.record_audit(portal.member_id, session.user_id, f"carrier {code or main}", changes)
    return config


# -- test SMS ------------------------------------------------------------------------------------
def send_test(session: Session, to: str, code: str, text: str = "") -> str:
    session.require_admin()
    portal = portal_of(session)
    config = portal.carrier_for(code)
    if not isinstance(to, str) or not to.strip() or len(to) > 32:
        raise PageError("bad_number")
    try:
        phones.to_e164(to, (config.default_country if config else "") or get_settings().default_country)
    except phones.InvalidNumber as exc:
        raise PageError("bad_number") from exc
    codes = set(portal.senders)
    if code and code != get_settings().sender_code and code not in codes:
        raise PageError("no_sender")
    sms = accept.OutgoingSms(
        f"test-{secrets.token_hex(8)}", to.strip(), text or "b24sms: test SMS", code or get_settings().sender_code, "page"
    )
    accept.accept(portal, sms)
    page_store.record_audit(portal.member_id, session.user_id, "test SMS", {"to": mask_phone(to), "sender": sms.code})
    return sms.message_id


def test_status(session: Session, message_id: str) -> dict[str, Any]:
    if not isinstance(message_id, str) or not message_id.startswith("test-") or len(message_id) > 64:
        raise NotFound("no such test message")
    message = page_store.get_message(portal_of(session).member_id, message_id)
    if message is None:
        raise NotFound("no such test message")
    row = log_row(message)
    return {
        "status": message.status,
        "final": message.status in ("delivered", "undelivered", "failed"),
        "timeline": row.timeline,
        "error_code": message.error_code,
        "error_key": row.error_key,
    }


# -- senders ---------------------------------------------------------------------------------------
# Joiners that emoji and some scripts need; every other format character (bidi overrides and isolates,
# marks, invisible separators) and every control, surrogate or line/paragraph separator is refused.
NAME_JOINERS = frozenset("\u200c\u200d")
NAME_REFUSED = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _name(value: Any) -> str:
    name = value.strip() if isinstance(value, str) else ""
    if not name or len(name) > MAX_NAME:
        raise PageError("bad_name")
    if any(unicodedata.category(ch) in NAME_REFUSED and ch not in NAME_JOINERS for ch in name):
        raise PageError("bad_name_chars")
    return name


def add_sender(session: Session, name: Any) -> str:
    """A new sender: registered on the portal (messageservice.sender.add) with its own CODE."""
    session.require_admin()
    portal = portal_of(session)
    label = _name(name)
    code = _new_sender_code(session, portal)
    from b24sms.adapters.bitrix.tokens import client_for  # cold start: the REST client (requests), for admins' changes
    from b24sms.usecases import senders  # cold start: as above

    client = client_for(portal)
    client.call("messageservice.sender.add", {**senders.extra_sender_fields(portal, code, label), "TYPE": "SMS"})
    page_store.save_senders(portal.member_id, {**portal.senders, code: {"name": label}})
    page_store.record_audit(portal.member_id, session.user_id, "sender added", {"code": code, "name": label})
    return code


def _new_sender_code(session: Session, portal: Portal) -> str:
    """``<SENDER_CODE>_<n>`` with n above every number handed out before (``sender_seq``, and the senders
    of a record older than that counter): taken with a conditional write, re-read when another took it."""
    base = get_settings().sender_code
    for _ in range(5):
        pattern = re.compile(rf"{re.escape(base)}_(\d{{1,9}})")
        in_use = [int(m.group(1)) for m in map(pattern.fullmatch, portal.senders) if m]
        number = max([portal.sender_seq, 1, *in_use]) + 1
        if page_store.take_sender_number(portal.member_id, number):
            return f"{base}_{number}"
        portal = portal_of(session)
    raise TryLater("senders are being changed right now: try again", "busy")


def rename_sender(session: Session, code: Any, name: Any) -> None:
    session.require_admin()
    portal = portal_of(session)
    if not isinstance(code, str) or code not in portal.senders:
        raise PageError("no_sender")
    label = _name(name)
    from b24sms.adapters.bitrix.tokens import client_for  # cold start: the REST client (requests), for admins' changes
    from b24sms.usecases import senders  # cold start: as above

    fields = senders.extra_sender_fields(portal, code, label)
    client_for(portal).call("messageservice.sender.update", {"CODE": code, "NAME": fields["NAME"]})
    page_store.save_senders(portal.member_id, {**portal.senders, code: {**portal.senders[code], "name": label}})
    page_store.record_audit(portal.member_id, session.user_id, "sender renamed", {"code": code, "name": label})


def delete_sender(session: Session, code: Any) -> None:
    session.require_admin()
    portal = portal_of(session)
    if not isinstance(code, str) or code not in portal.senders:
        raise PageError("no_sender")
    try:
        from b24sms.adapters.bitrix.tokens import client_for  # cold start: the REST client (requests), for admins' changes

        client_for(portal).call("messageservice.sender.delete", {"CODE": code})
    except BitrixError as exc:
        if exc.code != "ERROR_SENDER_NOT_FOUND":
            raise
    page_store.save_senders(portal.member_id, {k: v for k, v in portal.senders.items() if k != code})
    page_store.record_audit(portal.member_id, session.user_id, "sender removed", {"code": code})


# -- opt-outs ------------------------------------------------------------------------------------
def add_opt_out(session: Session, phone: Any) -> None:
    session.require_admin()
    portal = portal_of(session)
    if not isinstance(phone, str) or len(phone) > 32:
        raise PageError("bad_number")
    config = portal.carrier
    try:
        number = phones.to_e164(phone, (config.default_country if config else "") or get_settings().default_country)
    except phones.InvalidNumber as exc:
        raise PageError("bad_number") from exc
    store.chats.opt_out(portal.member_id, number, "page")
    page_store.record_audit(portal.member_id, session.user_id, "opt-out added", {"phone": mask_phone(number)})


def remove_opt_out(session: Session, ref: Any) -> None:
    session.require_admin()
    portal = portal_of(session)
    for entry in page_store.opt_outs(portal.member_id):
        if isinstance(ref, str) and hmac.compare_digest(opt_out_ref(session, entry["phone"]), ref):
            store.chats.opt_in(portal.member_id, entry["phone"])
            page_store.record_audit(portal.member_id, session.user_id, "opt-out removed", {"phone": mask_phone(entry["phone"])})
            return
    raise NotFound("no such opt-out")
