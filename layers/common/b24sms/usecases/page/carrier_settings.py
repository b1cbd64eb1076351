"""The page's carrier settings: which carriers it offers and their forms (as each carrier's spec
declares them), the settings as shown (never a credential), and **Check** and **Save** (the
credentials are checked against the carrier's API before anything is stored). Credential checks are
``carriers/checks.py``."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from b24sms.adapters import carriers, config, store
from b24sms.adapters.carriers import checks
from b24sms.adapters.config import get_settings
from b24sms.domain import phones
from b24sms.domain.errors import Invalid
from b24sms.domain.models import CarrierConfig
from b24sms.usecases import account_hold, portal_carriers
from b24sms.usecases.page.errors import FieldErrors, PageError
from b24sms.usecases.page.guard import Admin, admin_action

# Every carrier's own rules (credential fields, sender rule, check) are in its spec (``carriers.spec``);
# this is the page's general rule for a sender: a number, an id or a name.
SENDER = re.compile(r"^(\+[1-9]\d{6,14}|[A-Za-z0-9][A-Za-z0-9 ]{0,10}|MG[0-9a-fA-F]{32}|[\w:/.+-]{1,256})$")
MAX_FIELD = 256


def allowed_carriers() -> tuple[str, ...]:
    return config.app_carriers(carriers.known())


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
            values = store.credentials.read_credentials(config.credentials)
            keys = [f.key for f in spec.fields if f.secret] if spec else []
            secret = next((values[k] for k in (*keys, "secret") if values.get(k)), "")
            stored = secret[-4:] if len(secret) >= 8 else "****"
            if member_id and spec and spec.panel_callback_url and values.get(spec.callback_secret):
                callback_url = spec.panel_callback_url(get_settings().public_base_url, member_id, values)
        except Exception:  # unreadable: say nothing about it
            stored = "****"
    view = {"carrier": config.carrier, "sender": config.sender, "default_country": config.default_country, "stored": stored}
    return {**view, "callback_url": callback_url}


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
    Raises FieldErrors naming every wrong field, else PageError saying what is wrong in plain words."""
    spec = carriers.spec(form.carrier)
    problems: list[tuple[str, str, dict[str, str]]] = []  # every wrong field at once, by its label
    creds = {**(stored or {}), **form.credentials}
    for f in spec.fields:
        label, value = f"carrier.{spec.name}.{f.key}", creds.get(f.key, "")
        if f.required and not value:
            problems.append((label, "check.required", {}))
        elif value and ((f.pattern and not re.fullmatch(f.pattern, value)) or (f.choices and value not in f.choices)):
            problems.append((label, f"carrier.{spec.name}.{f.key}.invalid" if f.invalid else "check.bad_format", {}))
    if form.sender and not SENDER.match(form.sender):
        problems.append(("carrier.sender", "check.bad_sender", {}))
    elif form.sender and not spec.sender_ok(form.sender):  # in the carrier's own words, when it has them
        problems.append(
            ("carrier.sender", f"carrier.{spec.name}.sender.invalid" if spec.sender_invalid else "check.bad_sender", {})
        )
    if form.country and not phones.is_region(form.country):
        problems.append(("carrier.country", "check.bad_country", {"country": form.country[:8]}))
    if problems:
        raise FieldErrors(problems)
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


@admin_action
def check(admin: Admin, code: str, form: CarrierForm) -> None:
    """**Check** on the page: the typed credentials, completed by the stored ones of the same carrier
    (write-only fields left empty), against the carrier's API; nothing is saved."""
    current = admin.portal.carrier_for(code)
    stored = {}
    if current and current.credentials and current.carrier == form.carrier:
        stored = store.credentials.read_credentials(current.credentials)
    check_carrier(form, stored)
    account_hold.release_carrier(admin.portal, form.carrier)  # the account works: its held SMS go at their next look


@admin_action
def save_carrier(admin: Admin, form: CarrierForm, code: str = "") -> CarrierConfig:
    """Check, then store: the credentials in a new secret, the settings on the portal (or the sender
    ``code``), and a line in the audit log. Nothing is stored when the check fails."""
    portal = admin.portal
    main = get_settings().sender_code
    current = portal.carrier if not code or code == main else portal.carrier_for(code)
    if code and code != main and code not in portal.senders:
        raise PageError("no_sender")
    stored = (
        store.credentials.read_credentials(current.credentials)
        if current and current.credentials and current.carrier == form.carrier
        else {}
    )
    creds = check_carrier(form, stored)
    account_hold.release_carrier(portal, form.carrier)
    reference = current.credentials if current and creds == stored else ""
    if creds and not reference:
        replaces = current.credentials if current else ""
        reference = store.credentials.put_credentials(portal.member_id, code or main, creds, replaces)
    config = CarrierConfig(form.carrier, form.sender, form.country, reference)
    if not code or code == main:
        portal_carriers.configure(portal.member_id, config, check_secret=False)
    else:
        senders = dict(portal.senders)
        senders[code] = {"name": senders[code].get("name", code), **config.to_item()}
        store.portals.save_senders(portal.member_id, senders)
    changes = {"carrier": form.carrier, "sender": form.sender, "country": form.country}
    if form.credentials:
        changes["credentials"] = "changed"
    admin.audit(f"carrier {code or main}", changes)
    return config
