"""POST /bitrix/app: the application's own page in the portal (the portal opens it with AUTH_ID), and
POST /bitrix/app/api/{action}: the calls the page makes, each carrying the page's session token
(header ``X-B24sms-Session``). Rendered with Jinja2 (autoescaping on); strings from i18n/<lang>.json."""

from __future__ import annotations

import contextvars
import json
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from b24sms import api
from b24sms.adapters import config
from b24sms.domain.errors import DomainError, Invalid
from b24sms.usecases import page, page_session

logger = Logger()

HERE = Path(__file__).resolve().parent
LANGS = ("en", "ru")
# The page's own sentences, and what each carrier declares about itself (its name, fields, errors).
CATALOGUES: dict[str, dict[str, str]] = {
    lang: {**page.carrier_texts(lang), **json.loads((HERE / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))}
    for lang in LANGS
}
ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True, undefined=jinja2.StrictUndefined)
# Bitrix24's cloud portals; APP_FRAME_ANCESTORS replaces the list (a box portal's own domain, or the
# local emulator's origin).
DEFAULT_FRAME_ANCESTORS = (
    "https://*.bitrix24.com https://*.bitrix24.ru https://*.bitrix24.de https://*.bitrix24.eu https://*.bitrix24.es "
    "https://*.bitrix24.fr https://*.bitrix24.it https://*.bitrix24.pl https://*.bitrix24.kz https://*.bitrix24.by "
    "https://*.bitrix24.ua https://*.bitrix24.com.br https://*.bitrix24.in https://*.bitrix24.jp https://*.bitrix24.cn"
)
BX24_JS = "https://api.bitrix24.com/api/v1/"
SESSION_HEADER = "x-b24sms-session"
_nonce: contextvars.ContextVar[str] = contextvars.ContextVar("nonce", default="")


def catalogue(lang: str) -> dict[str, str]:
    return CATALOGUES.get(lang[:2].lower(), CATALOGUES["en"])


def translate(lang: str, key: str, **params: str) -> str:
    text = catalogue(lang).get(key) or CATALOGUES["en"].get(key)
    if text is None:
        if key.startswith("err."):  # an error code without a sentence yet: "error <code>", never the raw key
            return translate(lang, "err.fallback", code=key[4:])
        return key.removeprefix("status.")
    try:
        return text.format(**params)
    except (KeyError, IndexError):
        return text


# What the audit log's actions (stored in English, usecases/page/) read as on the page.
AUDIT_ACTIONS = {
    "test SMS": "test_sms",
    "sender added": "sender_added",
    "sender renamed": "sender_renamed",
    "sender removed": "sender_removed",
    "opt-out added": "optout_added",
    "opt-out removed": "optout_removed",
    "crm timeline": "crm",
    "routing changed": "routing_changed",
    "reconcile": "reconcile",
    "delivery alert": "delivery_alert",
    "quiet hours": "quiet",
}


AUDIT_FIELDS = (
    "carrier",
    "sender",
    "country",
    "credentials",
    "code",
    "name",
    "phone",
    "to",
    "routes",
    "fallback",
    "exempt",
    "delivered",
)
AUDIT_VALUE_ONLY = ("reconcile", "quiet")  # the action says what changed: only the value follows


def audit_change(lang: str, field: str, value: str) -> str:
    """One change of an audit line in the page's language: the field's word, and its value (a carrier's
    name, "changed" for credentials, else as recorded: masked already)."""
    if field in AUDIT_VALUE_ONLY:
        return value
    label = translate(lang, f"audit.field.{field}") if field in AUDIT_FIELDS else field
    if field in ("carrier", "fallback") and f"carrier.{value}" in catalogue(lang):
        value = translate(lang, f"carrier.{value}")
    elif value == "changed":
        value = translate(lang, "audit.changed")
    return f"{label}: {value}" if value else f"{label}: —"


def audit_text(lang: str, action: str) -> str:
    if action.startswith("carrier "):
        return translate(lang, "audit.carrier", code=action.removeprefix("carrier "))
    key = AUDIT_ACTIONS.get(action)
    return translate(lang, f"audit.{key}") if key else action


def optout_source(lang: str, source: str) -> str:
    """How a number opted out: on this page, by replying STOP (``<carrier>:STOP``), or a carrier's refusal code."""
    if source == "page":
        return translate(lang, "optouts.by_page")
    if source.endswith(":STOP"):
        return translate(lang, "optouts.by_stop")
    return translate(lang, "optouts.by_carrier", code=source) if source else ""


def explain(lang: str, exc: DomainError) -> str:
    """A refusal in the page's language: a PageError's sentence (every wrong field's, by its label), else
    the error code's."""
    if isinstance(exc, page.FieldErrors):
        return " ".join(field_error(lang, *problem) for problem in exc.problems)
    if isinstance(exc, page.PageError):
        return translate(lang, exc.key, **exc.params)
    key = f"error.{exc.code}"
    return translate(lang, key) if key in CATALOGUES["en"] else exc.description


def field_error(lang: str, label_key: str, key: str, params: dict[str, str]) -> str:
    """``<label>: <what is wrong>.`` (a label's explanation in brackets left out)."""
    label = translate(lang, label_key).split(" (")[0]
    return translate(lang, "check.field", field=label, problem=translate(lang, key, field=label, **params).rstrip("."))


def render(name: str, lang: str, status: int = 200, tz: str = "", **context: Any) -> api.HtmlPage:
    """A template in ``lang``, its times in the zone ``tz`` the session kept (UTC by default), labelled."""
    strings = catalogue(lang)
    zone, zone_label = page.timezone.zone(tz)

    def t(key: str, **params: str) -> str:
        return translate(lang, key, **params)

    bx24 = config.bx24_js(BX24_JS)
    body = ENV.get_template(name).render(
        t=t,
        lang=lang[:2],
        strings=strings,
        nonce=_nonce.get(),
        bx24_js=bx24,
        fmt_time=lambda at: page.timezone.local_time(at, zone),
        day_of=lambda at: page.timezone.local_time(at, zone)[:10],
        tz_label=zone_label,
        audit_text=lambda action: audit_text(lang, action),
        audit_change=lambda field, value: audit_change(lang, field, str(value)),
        optout_source=lambda source: optout_source(lang, source),
        **context,
    )
    return api.HtmlPage(body, status)


# -- the page ------------------------------------------------------------------------------------
def open_page(event: APIGatewayProxyEventV2) -> api.HtmlPage:
    query = event.query_string_parameters or {}
    lang = str(query.get("LANG") or "en")
    try:
        form = api.form_body(event.raw_event)
        token = str(form.get("session") or "")
        if token:
            session = page_session.verify(token)
        else:
            session, token = page.open_page(form, query)
        lang = session.lang  # what follows is refused in the session's language
        filters, cursor = page.parse_filters(form, page.timezone.zone(session.tz)[0])
        data = page.page_data(session, filters, cursor, page.parse_back(form), page.audit.parse_cursor(form))
    except DomainError as exc:  # a person is looking: say it in HTML, in their language
        return api.message_page(translate(lang, "title"), explain(lang, exc), status=api.http_status(exc), lang=lang)
    logger.info("page opened", extra={"member_id": session.member_id, "admin": session.admin})
    return render("page.html", session.lang, tz=session.tz, data=data, token=token, admin=session.admin)


# -- the page's calls ------------------------------------------------------------------------------
def call(event: APIGatewayProxyEventV2) -> dict[str, Any] | api.XmlResponse:
    action = page.action(str((event.path_parameters or {}).get("action") or ""))
    session = page_session.verify(api.headers_of(event.raw_event).get(SESSION_HEADER, ""))
    form = api.form_body(event.raw_event)
    logger.append_keys(member_id=session.member_id)
    try:
        result = action(session, form)
    except page.PageError as exc:  # the sentence in the user's language
        raise Invalid(explain(session.lang, exc), exc.code) from exc
    except DomainError as exc:  # the same for the other refusals that have a sentence (same kind, same status)
        exc.description = explain(session.lang, exc)
        raise
    if isinstance(result, page.LogExport):
        body = page.csv_export.csv_text(result, lambda key, **params: translate(session.lang, key, **params), session.tz)
        return api.XmlResponse(body, content_type="text/csv; charset=utf-8", filename="sms-log.csv")
    return say(session.lang, result)


def say(lang: str, result: dict[str, Any]) -> dict[str, Any]:
    """A call's answer in the user's language: its ``message_key``, and a test SMS's status, timeline
    and error."""
    if "message_key" in result:
        result["message"] = translate(lang, result.pop("message_key"))
    if result.get("error_key"):
        result["explanation"] = translate(lang, result["error_key"])
    if "status" in result:
        result["status_text"] = translate(lang, f"status.{result['status']}")
    for step in result.get("timeline", ()):
        step["text"] = translate(lang, f"status.{step['status']}")
    return result


# -- headers -------------------------------------------------------------------------------------
def security_headers(nonce: str) -> dict[str, str]:
    ancestors = config.frame_ancestors(DEFAULT_FRAME_ANCESTORS)
    bx24 = config.bx24_js(BX24_JS)
    script_src = f"'nonce-{nonce}'" + (f" {bx24.split('/api/')[0]}" if bx24 else "")
    return {
        "Content-Security-Policy": (
            f"default-src 'none'; script-src {script_src}; style-src 'nonce-{nonce}'; img-src 'self' data:; "
            f"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors {ancestors}"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


def with_headers(entry: Callable[[dict[str, Any], Any], dict[str, Any]]) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    def lambda_entry(event: dict[str, Any], context: Any) -> dict[str, Any]:
        nonce = secrets.token_urlsafe(16)
        token = _nonce.set(nonce)
        try:
            response = entry(event, context)
        finally:
            _nonce.reset(token)
        response.setdefault("headers", {}).update(security_headers(nonce))
        return response

    return lambda_entry


def route(event: APIGatewayProxyEventV2) -> dict[str, Any] | api.HtmlPage | api.XmlResponse:
    if (event.path_parameters or {}).get("action") is not None:
        return call(event)
    if event.request_context.http.method == "GET":  # opened outside the portal: say how to open it
        lang = str((event.query_string_parameters or {}).get("LANG") or "en")
        return api.message_page(translate(lang, "title"), translate(lang, "error.no_auth"), lang=lang)
    return open_page(event)


lambda_handler = with_headers(api.lambda_handler(route, logger))
