"""The application's page as a person sees it (functions/app): its catalogues (the page's own sentences
from the function's ``i18n/<lang>.json`` and what each carrier declares), sentences in the user's
language (``translate``, the audit log's texts, a refusal's ``explain``), the function's templates
rendered with Jinja2 (autoescaping on), a call's answer said in the user's language (``say``), and the
security headers every answer carries, with a fresh script nonce each (``with_headers``). The page's
handler parses, authenticates, calls one use case and answers through a ``PageView`` of its folder.
Only the page's function imports this module (Jinja2 costs cold-start time: tests/unit/test_cold_imports.py)."""

from __future__ import annotations

import contextvars
import json
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2

from b24sms import api
from b24sms.adapters import config
from b24sms.domain.errors import DomainError
from b24sms.usecases import page

LANGS = ("en", "ru")
# Bitrix24's cloud portals; APP_FRAME_ANCESTORS replaces the list (a box portal's own domain, or the
# local emulator's origin).
DEFAULT_FRAME_ANCESTORS = (
    "https://*.bitrix24.com https://*.bitrix24.ru https://*.bitrix24.de https://*.bitrix24.eu https://*.bitrix24.es "
    "https://*.bitrix24.fr https://*.bitrix24.it https://*.bitrix24.pl https://*.bitrix24.kz https://*.bitrix24.by "
    "https://*.bitrix24.ua https://*.bitrix24.com.br https://*.bitrix24.in https://*.bitrix24.jp https://*.bitrix24.cn"
)
BX24_JS = "https://api.bitrix24.com/api/v1/"
_nonce: contextvars.ContextVar[str] = contextvars.ContextVar("nonce", default="")

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


class PageView:
    """The page of the function in ``folder`` (its ``i18n/`` and ``templates/``)."""

    def __init__(self, folder: Path) -> None:
        # The page's own sentences, and what each carrier declares about itself (its name, fields, errors).
        self.catalogues: dict[str, dict[str, str]] = {
            lang: {**page.carrier_texts(lang), **json.loads((folder / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))}
            for lang in LANGS
        }
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(folder / "templates"), autoescape=True, undefined=jinja2.StrictUndefined
        )

    def catalogue(self, lang: str) -> dict[str, str]:
        return self.catalogues.get(lang[:2].lower(), self.catalogues["en"])

    def translate(self, lang: str, key: str, **params: str) -> str:
        text = self.catalogue(lang).get(key) or self.catalogues["en"].get(key)
        if text is None:
            if key.startswith("err."):  # an error code without a sentence yet: "error <code>", never the raw key
                return self.translate(lang, "err.fallback", code=key[4:])
            return key.removeprefix("status.")
        try:
            return text.format(**params)
        except (KeyError, IndexError):
            return text

    def audit_change(self, lang: str, field: str, value: str) -> str:
        """One change of an audit line in the page's language: the field's word, and its value (a carrier's
        name, "changed" for credentials, else as recorded: masked already)."""
        if field in AUDIT_VALUE_ONLY:
            return value
        label = self.translate(lang, f"audit.field.{field}") if field in AUDIT_FIELDS else field
        if field in ("carrier", "fallback") and f"carrier.{value}" in self.catalogue(lang):
            value = self.translate(lang, f"carrier.{value}")
        elif value == "changed":
            value = self.translate(lang, "audit.changed")
        return f"{label}: {value}" if value else f"{label}: —"

    def audit_text(self, lang: str, action: str) -> str:
        if action.startswith("carrier "):
            return self.translate(lang, "audit.carrier", code=action.removeprefix("carrier "))
        key = AUDIT_ACTIONS.get(action)
        return self.translate(lang, f"audit.{key}") if key else action

    def optout_source(self, lang: str, source: str) -> str:
        """How a number opted out: on this page, by replying STOP (``<carrier>:STOP``), or a carrier's refusal code."""
        if source == "page":
            return self.translate(lang, "optouts.by_page")
        if source.endswith(":STOP"):
            return self.translate(lang, "optouts.by_stop")
        return self.translate(lang, "optouts.by_carrier", code=source) if source else ""

    def explain(self, lang: str, exc: DomainError) -> str:
        """A refusal in the page's language: a PageError's sentence (every wrong field's, by its label), else
        the error code's."""
        if isinstance(exc, page.FieldErrors):
            return " ".join(self.field_error(lang, *problem) for problem in exc.problems)
        if isinstance(exc, page.PageError):
            return self.translate(lang, exc.key, **exc.params)
        key = f"error.{exc.code}"
        return self.translate(lang, key) if key in self.catalogues["en"] else exc.description

    def field_error(self, lang: str, label_key: str, key: str, params: dict[str, str]) -> str:
        """``<label>: <what is wrong>.`` (a label's explanation in brackets left out)."""
        label = self.translate(lang, label_key).split(" (")[0]
        problem = self.translate(lang, key, field=label, **params).rstrip(".")
        return self.translate(lang, "check.field", field=label, problem=problem)

    def render(self, name: str, lang: str, status: int = 200, tz: str = "", **context: Any) -> api.HtmlPage:
        """A template in ``lang``, its times in the zone ``tz`` the session kept (UTC by default), labelled."""
        zone, zone_label = page.timezone.zone(tz)

        def t(key: str, **params: str) -> str:
            return self.translate(lang, key, **params)

        body = self.env.get_template(name).render(
            t=t,
            lang=lang[:2],
            strings=self.catalogue(lang),
            nonce=_nonce.get(),
            bx24_js=config.bx24_js(BX24_JS),
            fmt_time=lambda at: page.timezone.local_time(at, zone),
            day_of=lambda at: page.timezone.local_time(at, zone)[:10],
            tz_label=zone_label,
            audit_text=lambda action: self.audit_text(lang, action),
            audit_change=lambda field, value: self.audit_change(lang, field, str(value)),
            optout_source=lambda source: self.optout_source(lang, source),
            **context,
        )
        return api.HtmlPage(body, status)

    def message(self, lang: str, key: str) -> api.HtmlPage:
        """A page that only says the sentence ``key`` (e.g. how to open the page)."""
        return api.message_page(self.translate(lang, "title"), self.translate(lang, key), lang=lang)

    def refusal(self, lang: str, exc: DomainError) -> api.HtmlPage:
        """A refusal as a page, in the person's language, with the refusal's HTTP status."""
        return api.message_page(self.translate(lang, "title"), self.explain(lang, exc), status=api.http_status(exc), lang=lang)

    def say(self, lang: str, result: dict[str, Any]) -> dict[str, Any]:
        """A call's answer in the user's language: its ``message_key``, and a test SMS's status, timeline
        and error."""
        if "message_key" in result:
            result["message"] = self.translate(lang, result.pop("message_key"))
        if result.get("error_key"):
            result["explanation"] = self.translate(lang, result["error_key"])
        if "status" in result:
            result["status_text"] = self.translate(lang, f"status.{result['status']}")
        for step in result.get("timeline", ()):
            step["text"] = self.translate(lang, f"status.{step['status']}")
        return result

    def csv(self, lang: str, export: page.LogExport, tz: str) -> api.XmlResponse:
        """The message log's CSV download, its headings in the user's language."""
        body = page.csv_export.csv_text(export, lambda key, **params: self.translate(lang, key, **params), tz)
        return api.XmlResponse(body, content_type="text/csv; charset=utf-8", filename="sms-log.csv")


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
    """A handler whose every answer carries the security headers, with a nonce of its own for the page's
    scripts and styles (``render`` puts it in the template)."""

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
