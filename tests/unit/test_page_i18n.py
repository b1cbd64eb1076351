"""The application page speaks the portal's language everywhere: every key the templates, the page's
script and the page's errors use is in both catalogues, statuses and error codes are translated, and
an error code without a sentence reads "error <code>" in the page's language, never a raw key."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from b24sms.adapters import carriers, store
from b24sms.api import page_view
from b24sms.domain import stats
from b24sms.domain.models import Message, Portal
from b24sms.usecases import page
from b24sms.usecases.page_session import Session

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "functions" / "app"
LAYER = ROOT / "layers" / "common" / "b24sms"
STATUSES = ("queued", "sent", "delivered", "undelivered", "failed")
# The codes of every error the page's function can answer with: the DomainError kinds' own codes, and
# the codes the page's modules name (found in their source below, so a new one cannot be missed).
DEFAULT_CODES = {"bad_request", "payload_too_large", "unsupported_media_type", "unauthorized", "forbidden", "not_found"}


def catalogues() -> dict[str, dict[str, str]]:
    """The page's catalogues as the page reads them: its own sentences and what each carrier declares."""
    return {
        lang: {**page.carrier_texts(lang), **json.loads((APP / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))}
        for lang in ("en", "ru")
    }


def app_module() -> Any:
    spec = importlib.util.spec_from_file_location("app_i18n_under_test", APP / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.pop(spec.name, None)
    spec.loader.exec_module(module)
    return module


def used_keys() -> set[str]:
    keys: set[str] = set()
    for template in (APP / "templates").glob("*.html"):
        text = template.read_text(encoding="utf-8")
        keys |= set(re.findall(r"""\bt\(\s*["']([\w.]+)["']\s*[,)]""", text))
        keys |= set(re.findall(r"""strings\[\s*["']([\w.]+)["']\s*\]""", text))
    keys |= {f"carrier.{c}" for c in carriers.known()} | {f"source.{s}" for s in ("crm", "openlines", "test")}
    for form in page.carrier_forms(carriers.known()):
        keys |= {f"carrier.{form['name']}.{f['key']}" for f in form["fields"]}
    keys |= {f"status.{s}" for s in STATUSES} | {"err.fallback", "err.unknown"}
    source = "".join(module.read_text(encoding="utf-8") for module in (LAYER / "usecases" / "page").glob("*.py"))
    keys |= set(re.findall(r'PageError\(\s*"([\w.]+)"', source))
    reasons = [
        reason
        for module in (LAYER / "adapters" / "carriers").glob("*.py")
        for reason in re.findall(r'CheckFailed\(\s*"(\w+)"', module.read_text(encoding="utf-8"))
    ]
    keys |= {f"check.{r}" for r in reasons}
    codes = set(DEFAULT_CODES)
    modules = [
        *(LAYER / "usecases" / "page").glob("*.py"),
        LAYER / "usecases/page_session.py",
        LAYER / "adapters/bitrix/users.py",
    ]
    for module in modules:
        text = module.read_text(encoding="utf-8")
        codes |= set(re.findall(r'(?:NotAuthenticated|Forbidden|NotFound|Invalid|TryLater)\([^()]*?,\s*"(\w+)"\)', text))
        codes |= set(re.findall(r'NotConfirmed\(\s*"(\w+)"', text))
    codes |= set(re.findall(r'NotFound\([^()]*?,\s*"(\w+)"\)', (APP / "app.py").read_text(encoding="utf-8")))
    keys |= {f"error.{c}" for c in codes}
    keys |= {f"audit.{a}" for a in page_view.AUDIT_ACTIONS.values()} | {"audit.carrier"}
    keys |= {"optouts.by_page", "optouts.by_stop", "optouts.by_carrier", "network_error", "error.http"}
    return keys


def test_both_catalogues_hold_the_same_keys_none_empty():
    en, ru = catalogues().values()
    assert sorted(en) == sorted(ru)
    assert [k for k, v in {**en, **ru}.items() if not v.strip()] == []


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_every_key_the_page_uses_is_in_the_catalogue(lang: str):
    missing = sorted(k for k in used_keys() if k not in catalogues()[lang])
    assert missing == []


def test_an_error_code_without_a_sentence_reads_error_code_in_the_pages_language():
    app = app_module()
    assert app.VIEW.translate("ru", "err.SANDBOX_UNREACHABLE") == "Ошибка SANDBOX_UNREACHABLE"
    assert app.VIEW.translate("en", "err.SANDBOX_UNREACHABLE") == "Error SANDBOX_UNREACHABLE"
    assert app.VIEW.translate("ru", "err.OPTED_OUT") == catalogues()["ru"]["err.OPTED_OUT"]
    assert app.VIEW.translate("ru", "status.delivered") == catalogues()["ru"]["status.delivered"]


def test_the_russian_page_shows_statuses_timeline_filter_audit_and_opt_outs_in_russian(monkeypatch: pytest.MonkeyPatch):
    app = app_module()
    ru = catalogues()["ru"]
    now = 1_700_000_000
    failed = Message(
        member_id="m", message_id="x1", to="+15550100100", code="b24sms", status="failed", created_at=now,
        history=[{"status": "sent", "at": now + 1}, {"status": "failed", "at": now + 2}], error_code="SANDBOX_UNREACHABLE",
    )  # fmt: skip
    data = page.PageData(
        session=Session("m", "1", True, "ru", now + 3600),
        portal=Portal(member_id="m", client_endpoint="https://p/rest/", domain="p.bitrix24.ru"),
        carrier={"carrier": "", "sender": "", "default_country": "", "stored": ""},
        senders=[{"code": "b24sms", "name": "SMS", "carrier": "sandbox", "sender": "", "main": "1"}],
        log=[page.log_row(failed)],
        cursor="",
        filters=store.message_log.LogFilter(),
        summary=stats.summarise({}, 30, now),
        opt_outs=[
            {"phone": "+1555***0100", "ref": "r", "at": now, "source": "page"},
            {"phone": "+1555***0101", "ref": "s", "at": now, "source": "twilio:STOP"},
        ],
        openlines=[],
        audit=[
            {"at": now, "user": "1", "action": "sender added", "changes": {"code": "b24sms_2"}},
            {"at": now, "user": "1", "action": "carrier b24sms", "changes": {}},
        ],
        carriers=("sandbox",),
    )  # fmt: skip
    body = app.VIEW.render("page.html", "ru", data=data, token="t", admin=True).body
    badge = re.search(r'<span class="badge failed">([^<]*)</span>', body)
    assert badge and badge.group(1) == ru["status.failed"]
    timeline = re.search(r'<td class="timeline">(.*?)</td>', body, re.S)
    assert timeline and ru["status.queued"] in timeline.group(1) and ru["status.sent"] in timeline.group(1)
    assert "queued" not in timeline.group(1)
    options = re.findall(r'<option value="(queued|sent|delivered|undelivered|failed)"[^>]*>([^<]*)</option>', body)
    assert dict(options) == {s: ru[f"status.{s}"] for s in STATUSES}
    assert ru["audit.sender_added"] in body and "sender added" not in body
    assert ru["optouts.by_page"] in body and ru["optouts.by_stop"] in body
