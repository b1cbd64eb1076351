"""SMS.ru (the provider Bitrix24 ships for Russia), with one HTTP call per send (no SDK shipped).

- send: ``POST {api}/sms/send`` (form: ``api_id``, ``to`` = the number without "+", ``msg``,
  ``json=1``, ``from`` when a sender name is set), at most once (``base.post_once``). The answer is
  per number: ``sms[<number>]`` is ``status`` OK with its ``sms_id``, or ERROR with a ``status_code``,
  and one number can fail while the whole answer says OK. Codes 200/201/206/220/300-302/500 are
  account or service trouble a retry (or an operator) fixes; the others are about this message;
- delivery statuses: SMS.ru POSTs the callback URL registered in its panel (never one per SMS), a
  form of ``data[]`` entries, each the lines ``sms_status``, ``<sms_id>``, ``<code>`` (other entry
  types are ignored), and wants ``100`` as the answer or it calls again. It carries no key of ours:
  the message is found by its ``sms_id``;
- SMS.ru signs nothing: the callback URL carries a secret (``?secret=``), compared in constant time
  before the body is read. A portal with its own account gets a secret made for it when it saves
  (``callback_secret`` in its credentials) and the URL (with ``portal=<member_id>``) to register on
  the page; the deployment's account uses ``SMSRU_CALLBACK_SECRET``. Never taken without one;
- the credential check asks for the balance (``my/balance``); outbound only: no inbound SMS.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from urllib.parse import urlencode

from b24sms.adapters.carriers import checks
from b24sms.adapters.carriers.base import (
    CallbackRequest,
    CarrierOutcomeUnknown,
    CarrierSpec,
    CarrierThrottled,
    CheckFailed,
    Field,
    InboundSms,
    OutboundSms,
    PermanentCarrierError,
    SendResult,
    SignatureError,
    StatusReport,
    TransientCarrierError,
    get_status,
    post_once,
    same_signature,
)
from b24sms.adapters.config import get_settings, optional_secret, setting
from b24sms.domain import holds, prices
from b24sms.domain.formdata import decode_pairs
from b24sms.domain.models import CarrierConfig
from b24sms.domain.privacy import mask_carrier_text

DEFAULT_API = "https://sms.ru"
NAME = "smsru"

# Delivery status codes and what the portal is told (None: nothing yet, or nothing we can use).
STATUS_MAP: dict[str, str | None] = {
    "-1": None,  # not found
    "100": None,  # queued at SMS.ru
    "101": None,  # being handed to the operator
    "102": "sent",  # in transit (the operator has it; not delivered)
    "103": "delivered",
    "104": "undelivered",  # its lifetime (ttl) ran out
    "105": "undelivered",  # deleted by the operator
    "106": "undelivered",  # phone failure
    "107": "undelivered",  # unknown reason
    "108": "undelivered",  # rejected
    "110": "delivered",  # read
    "150": "undelivered",  # no route to this number
}

# Send refusals a retry can fix: the account (api_id, balance, daily limit, authentication) an
# operator fixes, and SMS.ru's own trouble. Everything else (number, sender name, stop list, spam,
# per-number limits, duplicates) is about this message.
TRANSIENT = frozenset({"200", "201", "206", "220", "300", "301", "302", "500"})
SMS_ID = re.compile(r"^\d{6}-\d{1,20}$")  # as the core's own handler checks them


def _texts(en: str, ru: str) -> dict[str, str]:
    return {"en": en, "ru": ru}


# What a portal's log says about an SMS.ru error (``err.SMSRU_<code>``).
ERROR_TEXTS: dict[str, dict[str, str]] = {
    "SMSRU_200": _texts("SMS.ru does not know this api_id.", "SMS.ru не знает такой api_id."),
    "SMSRU_201": _texts("Not enough money on the SMS.ru account.", "Недостаточно средств на счёте SMS.ru."),
    "SMSRU_202": _texts("SMS.ru says the number is wrong.", "SMS.ru считает номер неверным."),
    "SMSRU_204": _texts("The sender name is not approved by SMS.ru.", "Имя отправителя не согласовано в SMS.ru."),
    "SMSRU_206": _texts("The SMS.ru account's daily limit is reached.", "Исчерпан дневной лимит аккаунта SMS.ru."),
    "SMSRU_207": _texts("SMS.ru cannot send to this number.", "SMS.ru не может отправить на этот номер."),
    "SMSRU_209": _texts("The number is on the SMS.ru stop list.", "Номер в стоп-листе SMS.ru."),
    "SMSRU_215": _texts("SMS.ru refused the text as spam.", "SMS.ru отклонил текст как спам."),
    "SMSRU_220": _texts("SMS.ru was unavailable.", "Сервис SMS.ru был недоступен."),
    "SMSRU_230": _texts("Too many SMS to this number today.", "Превышен дневной лимит сообщений на этот номер."),
    "SMSRU_231": _texts("The same text to this number too often.", "Одинаковые сообщения на этот номер слишком часто."),
    "SMSRU_232": _texts("The same text to this number today already.", "Такое сообщение на этот номер сегодня уже было."),
    "SMSRU_104": _texts("Not delivered in its lifetime.", "Не доставлено за время жизни сообщения."),
    "SMSRU_105": _texts("Deleted by the operator.", "Удалено оператором."),
    "SMSRU_106": _texts("The phone failed to take it.", "Сбой в телефоне получателя."),
    "SMSRU_107": _texts("Not delivered, for an unknown reason.", "Не доставлено по неизвестной причине."),
    "SMSRU_108": _texts("Rejected.", "Отклонено."),
    "SMSRU_150": _texts("No route to this number.", "Нет маршрута на этот номер."),
}


def _report(sms_id: str, code: str, key: str = "") -> StatusReport:
    """What a status code (a callback's entry or a query's answer) tells about one SMS."""
    status = STATUS_MAP.get(code)
    failed = status == "undelivered"
    return StatusReport(
        carrier_message_id=sms_id,
        carrier_status=code,
        bitrix_status=status,
        message_key=key,
        error_code=f"SMSRU_{code}" if failed else "",
        error_message=ERROR_TEXTS.get(f"SMSRU_{code}", {}).get("en", "") if failed else "",
    )


class SmsRuCarrier:
    name = NAME

    def __init__(
        self,
        api_id: str,
        *,
        sender: str = "",
        callback_secret: str | Callable[[], str] = "",
        api_base: str = DEFAULT_API,
        timeout: float = 10.0,
    ) -> None:
        if not api_id:
            raise ValueError("SMS.ru needs an api_id")
        self.api_id = api_id
        self.sender = sender
        # read only where callbacks are (the status route): dispatch is not allowed the deployment's
        self._callback_secret = callback_secret
        self.api_base = api_base.rstrip("/")
        self.timeout = timeout

    def send(self, sms: OutboundSms) -> SendResult:
        to = sms.to.lstrip("+")
        form = {"api_id": self.api_id, "to": to, "msg": sms.body, "json": "1"}
        if self.sender:
            form["from"] = self.sender
        # at most once: retried only if the request never left (post_once), else SMS.ru may have it
        response = post_once(NAME, f"{self.api_base}/sms/send", data=form, timeout=self.timeout)
        if response.status_code == 429:
            raise CarrierThrottled("SMSRU_429", "too many requests", float(response.headers.get("Retry-After") or 1))
        if response.status_code >= 500:
            raise TransientCarrierError(f"SMSRU_HTTP_{response.status_code}", "SMS.ru server error")
        try:
            answer = response.json()
            entry = (answer.get("sms") or {}).get(to) if answer.get("status") == "OK" else answer
        except (ValueError, AttributeError) as exc:  # SMS.ru read it: it may have taken the SMS
            raise CarrierOutcomeUnknown(f"SMSRU_HTTP_{response.status_code}", "unexpected answer from SMS.ru") from exc
        if not isinstance(entry, dict):  # "OK" without a word about our number: it may have taken it
            raise CarrierOutcomeUnknown("SMSRU_NO_ENTRY", "SMS.ru answered OK without this number")
        if entry.get("status") == "OK" and entry.get("sms_id"):
            return SendResult(str(entry["sms_id"]), "accepted")
        code = str(entry.get("status_code") or "EMPTY")
        text = mask_carrier_text(str(entry.get("status_text") or "refused"))  # it may name the number
        if code in TRANSIENT:
            raise TransientCarrierError(f"SMSRU_{code}", text)
        raise PermanentCarrierError(f"SMSRU_{code}", text)

    @property
    def callback_secret(self) -> str:
        secret = self._callback_secret
        return secret if isinstance(secret, str) else secret()

    def parse_status(self, request: CallbackRequest) -> list[StatusReport]:
        """The callback's ``sms_status`` entries, once the secret in its URL is ours (else SignatureError)."""
        expected = self.callback_secret
        if not expected:  # never taken unauthenticated: nothing to compare with
            raise SignatureError("no SMS.ru callback secret (the portal's or SMSRU_CALLBACK_SECRET): refused")
        given = request.query.get("secret", "")
        if not given or not same_signature(given, expected):
            raise SignatureError("missing or wrong SMS.ru callback secret")
        reports = []
        for key, value in decode_pairs(request.body):
            if key != "data[]" and not re.fullmatch(r"data\[\d{1,4}\]", key):
                continue
            lines = [line.strip() for line in value.replace("\r", "").split("\n")]
            if len(lines) < 3 or lines[0] != "sms_status" or not SMS_ID.match(lines[1]):
                continue  # another kind of entry (or not one we can use): ignored, as SMS.ru asks
            reports.append(_report(lines[1], lines[2]))
        return reports

    def query_status(self, carrier_message_id: str, key: str) -> StatusReport | None:
        """``sms/status``: the code SMS.ru holds for this ``sms_id`` (None when it knows none: -1)."""
        form = {"api_id": self.api_id, "sms_id": carrier_message_id, "json": "1"}
        response = get_status(NAME, f"{self.api_base}/sms/status", params=form, timeout=self.timeout)
        try:
            entry = response.json()["sms"][carrier_message_id]
            code = str(entry["status_code"])
        except (ValueError, KeyError, TypeError) as exc:
            raise TransientCarrierError("SMSRU_QUERY_FAILED", "unexpected answer from SMS.ru") from exc
        if code == "-1":
            return None
        cost = prices.total(entry.get("cost"))  # in roubles (the account's currency)
        return replace(_report(carrier_message_id, code, key), price=cost, price_unit="RUB" if cost else "")

    def parse_inbound(self, request: CallbackRequest) -> InboundSms:
        raise ValueError("SMS.ru delivers no inbound SMS: replies need a two-way carrier")


def check(creds: Mapping[str, str], sender: str) -> None:
    """The page's **Check**: ask for the account's balance with this api_id (nothing is sent)."""
    base = setting("SMSRU_API_BASE", DEFAULT_API).rstrip("/")
    response = checks.http("SMS.ru", "POST", f"{base}/my/balance", data={"api_id": creds["api_id"], "json": "1"})
    try:
        answer = response.json()
        ok = answer.get("status") == "OK" and "balance" in answer
    except (ValueError, AttributeError) as exc:
        raise CheckFailed("unreachable", "SMS.ru") from exc
    if not ok:
        raise CheckFailed("bad_credentials", "SMS.ru")


def panel_callback_url(base_url: str, member_id: str, creds: Mapping[str, str]) -> str:
    """The URL to register in SMS.ru's panel (Settings → API → callback): a portal's own account's."""
    query = {"portal": member_id, "secret": creds.get("callback_secret", "")} if member_id else {}
    return f"{base_url.rstrip('/')}/carriers/{NAME}/status" + (f"?{urlencode(query)}" if query else "")


def build(config: CarrierConfig, creds: Mapping[str, str]) -> SmsRuCarrier:
    """The adapter with a portal's own account (``creds``, ``config.sender``), else the deployment's."""
    env = setting
    return SmsRuCarrier(
        creds.get("api_id") or optional_secret("SMSRU_API_ID"),
        sender=config.sender or env("SMSRU_FROM", ""),
        callback_secret=creds.get("callback_secret") or (lambda: optional_secret("SMSRU_CALLBACK_SECRET")),
        api_base=env("SMSRU_API_BASE", DEFAULT_API),
        timeout=get_settings().http_timeout,
    )


SPEC = CarrierSpec(
    name=NAME,
    title={"en": "SMS.ru", "ru": "SMS.ru"},
    settings=("SMSRU_API_ID", "SMSRU_CALLBACK_SECRET", "SMSRU_FROM", "SMSRU_API_BASE"),
    build=build,
    # 204 sender name not approved (for this operator), 207 SMS.ru cannot send to this number
    route_codes=frozenset({"SMSRU_204", "SMSRU_207"}),
    secret_keys=("api_id",),  # + callback_secret, made for the portal when it saves
    default_sender="SMSRU_FROM",
    price_from="",  # the cost is in sms/status and sms/cost answers only: one more call per SMS
    price_after=60,  # sms/status's cost: asked once, a minute after the final status
    # 200 wrong api_id, 300-302 authentication refused; 201 not enough money on the account.
    account_refusals={
        "SMSRU_200": holds.CREDENTIALS,
        "SMSRU_300": holds.CREDENTIALS,
        "SMSRU_301": holds.CREDENTIALS,
        "SMSRU_302": holds.CREDENTIALS,
        "SMSRU_201": holds.BALANCE,
    },
    delivery_time=1800,
    status_queries_per_second=5.0,  # sms/status, one id a query
    fields=(Field("api_id", {"en": "API key (api_id)", "ru": "API-ключ (api_id)"}, secret=True),),
    sender_ok=lambda sender: re.fullmatch(r"[A-Za-z0-9 ._-]{2,11}|\+?\d{7,15}", sender) is not None,
    sender_invalid={
        "en": "An SMS.ru sender is a name approved in your SMS.ru panel (2 to 11 Latin letters, digits, spaces, dots, "
        "dashes) or a number; leave it empty for the account's default.",
        "ru": "Отправитель SMS.ru — имя, согласованное в панели SMS.ru (от 2 до 11 латинских букв, цифр, пробелов, точек, "
        "дефисов), или номер; оставьте пустым для имени по умолчанию.",
    },
    check=check,
    two_way=False,
    status_answer=("text/plain; charset=utf-8", "100"),
    callback_secret="callback_secret",  # noqa: S106 (a key's name, not a secret)
    callback_secret_setting="SMSRU_CALLBACK_SECRET",  # noqa: S106
    callback_secret_parameter="SmsruCallbackSecretParameter",  # noqa: S106
    generates_callback_secret=True,
    callback_portal=lambda request: request.query.get("portal", ""),
    panel_callback_url=panel_callback_url,
    error_texts=ERROR_TEXTS,
)
