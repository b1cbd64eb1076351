"""Vonage SMS API, with one HTTP call per send (no SDK shipped).

- send: ``POST {api}/sms/json`` (form: ``api_key``, ``api_secret``, ``from``, ``to``, ``text``,
  ``type=unicode`` when the text needs UCS-2, ``callback`` = our status route, ``client-ref`` = our
  key). Vonage answers HTTP 200 even for refusals: each entry of ``messages[]`` is one *segment*, with
  its own ``message-id`` and ``status`` ("0" = accepted);
- delivery receipts: one per segment (GET or POST, form or JSON), each with ``messageId`` (the
  segment), ``client-ref`` (our key), ``status`` and ``err-code``. The segments' statuses are combined
  into one message status by :func:`b24sms.domain.bitrix_statuses.combine_parts`: ``delivered`` only
  when every segment is, otherwise the worst wins;
- inbound SMS: ``msisdn`` (the customer), ``to`` (our number), ``messageId``, ``text``; a long message
  arrives as parts (``concat=true``, ``concat-ref``, ``concat-total``, ``concat-part``) in any order,
  which the caller joins;
- signed receipts and inbound messages: ``sig`` must be the hex digest over ``&key=value`` of the
  other parameters sorted by key (``&`` and ``=`` in values replaced by ``_``): HMAC-MD5/SHA1/SHA256/
  SHA512 with the signature secret, or ``md5hash``, MD5 of that string followed by the secret. The
  secret is the portal's own (``signature_secret`` in its credentials) or else the deployment's
  (``VONAGE_SIGNATURE_SECRET``); with neither, every receipt and inbound SMS is refused (a setup
  without one is refused at save: ``carriers.unverifiable``). Never taken unsigned.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping

from b24sms.adapters.carriers import checks
from b24sms.adapters.carriers.base import (
    CallbackRequest,
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
    post_once,
    same_signature,
)
from b24sms.adapters.config import get_settings, optional_secret, setting
from b24sms.domain import holds, prices
from b24sms.domain.formdata import decode_flat, decode_json_object, flat_strings
from b24sms.domain.models import CarrierConfig
from b24sms.domain.privacy import mask_carrier_text

DEFAULT_API = "https://rest.nexmo.com"
SIGNATURE_METHODS = ("md5hash", "md5", "sha1", "sha256", "sha512")

# A segment's receipt status, and what it means for the portal on its own.
STATUS_MAP: dict[str, str | None] = {
    "accepted": "sent",
    "buffered": "sent",
    "delivered": "delivered",
    "expired": "undelivered",
    "failed": "undelivered",
    "rejected": "undelivered",
    "unknown": None,
}

# Send refusals (``messages[].status``) that a retry can fix: throttling, Vonage's own trouble, and
# account trouble an operator fixes (credentials, balance). Everything else is about this message.
THROTTLED = frozenset({"1"})
# The send answer's ``message-price`` (one per segment) is in the account's currency, which the answer
# does not name: Vonage accounts are billed in euros. The receipts' ``price`` repeats it per segment.
PRICE_UNIT = "EUR"

TRANSIENT = frozenset({"4", "5", "8", "9", "11", "14"})


def sign(params: Mapping[str, str], secret: str, method: str = "md5hash") -> str:
    """The ``sig`` Vonage computes over ``params`` (which must not hold ``sig`` itself)."""
    payload = "".join(f"&{k}={str(params[k]).replace('&', '_').replace('=', '_')}" for k in sorted(params))
    if method == "md5hash":
        return hashlib.md5((payload + secret).encode(), usedforsecurity=False).hexdigest()
    if method not in SIGNATURE_METHODS:
        raise ValueError(f"unknown Vonage signature method {method!r}; one of {', '.join(SIGNATURE_METHODS)}")
    return hmac.new(secret.encode(), payload.encode(), method).hexdigest()


def receipt_params(request: CallbackRequest) -> dict[str, str]:
    """A receipt's (or inbound message's) fields, from the query (GET), a form body or a JSON body
    (a flat object: anything nested is refused). Bounded like every body (``formdata``)."""
    params = dict(request.query)
    body = request.body.strip()
    if body.startswith("{"):
        params.update(flat_strings(decode_json_object(body), "Vonage callback"))
    elif body:
        params.update(decode_flat(body))
    return params


class VonageCarrier:
    name = "vonage"

    def __init__(
        self,
        api_key: str,
        api_secret: str,
        *,
        sender: str,
        signature_secret: str = "",
        signature_method: str = "md5hash",
        api_base: str = DEFAULT_API,
        timeout: float = 10.0,
    ) -> None:
        if not api_key or not api_secret:
            raise ValueError("Vonage needs an API key and secret")
        if not sender:
            raise ValueError("Vonage needs a sender ('from': a number or an alphanumeric sender id)")
        if signature_method not in SIGNATURE_METHODS:
            raise ValueError(f"unknown Vonage signature method {signature_method!r}")
        self.api_key = api_key
        self.api_secret = api_secret
        self.sender = sender
        self.signature_secret = signature_secret
        self.signature_method = signature_method
        self.api_base = api_base.rstrip("/")
        self.timeout = timeout

    def send(self, sms: OutboundSms) -> SendResult:
        form = {
            "api_key": self.api_key,
            "api_secret": self.api_secret,
            "from": self.sender,
            "to": sms.to.lstrip("+"),  # Vonage takes E.164 without the plus
            "text": sms.body,
            "callback": sms.status_callback_url,
            "client-ref": sms.key,
        }
        if sms.encoding == "UCS-2":
            form["type"] = "unicode"
        # at most once: retried only if the request never left (post_once), else Vonage may have it
        response = post_once("Vonage", f"{self.api_base}/sms/json", data=form, timeout=self.timeout)
        if response.status_code == 429:
            raise CarrierThrottled("VONAGE_429", "too many requests", float(response.headers.get("Retry-After") or 1))
        if response.status_code >= 500:
            raise TransientCarrierError(f"VONAGE_HTTP_{response.status_code}", "Vonage server error")
        try:
            entries = response.json()["messages"]
        except (ValueError, KeyError, TypeError) as exc:
            if response.status_code in (401, 403):
                raise TransientCarrierError(f"VONAGE_HTTP_{response.status_code}", "credentials refused") from exc
            raise PermanentCarrierError(f"VONAGE_HTTP_{response.status_code}", "unexpected answer from Vonage") from exc
        accepted = [str(e.get("message-id")) for e in entries if str(e.get("status")) == "0" and e.get("message-id")]
        if accepted:  # any segment taken means the customer may get it: never resent
            price = prices.total(*(e.get("message-price") for e in entries if str(e.get("status")) == "0"))
            return SendResult(
                accepted[0], "accepted", part_ids=tuple(accepted), price=price, price_unit=PRICE_UNIT if price else ""
            )
        first = entries[0] if entries else {}
        status = str(first.get("status", ""))
        text = mask_carrier_text(str(first.get("error-text") or "refused"))  # it may name the number
        code = f"VONAGE_{status or 'EMPTY'}"
        if status in THROTTLED:
            raise CarrierThrottled(code, text, 1.0)
        if status in TRANSIENT:
            raise TransientCarrierError(code, text)
        raise PermanentCarrierError(code, text)

    def _verified_params(self, request: CallbackRequest) -> dict[str, str]:
        """The callback's fields, once its ``sig`` and account are checked (else SignatureError)."""
        params = receipt_params(request)
        if not self.signature_secret:  # never taken unsigned (Vonage's default): nothing to verify with
            raise SignatureError("no Vonage signature secret (the portal's or VONAGE_SIGNATURE_SECRET): refused")
        given = params.pop("sig", "").lower()
        if not given or not same_signature(given, sign(params, self.signature_secret, self.signature_method)):
            raise SignatureError("missing or wrong Vonage sig")
        if params.get("api-key") and params["api-key"] != self.api_key:
            raise SignatureError("callback for another Vonage account")
        return params

    def parse_status(self, request: CallbackRequest) -> list[StatusReport]:
        params = self._verified_params(request)
        part = params.get("messageId", "")
        status = params.get("status", "").lower()
        if not part or status not in STATUS_MAP:
            raise ValueError("Vonage receipt needs messageId and a known status")
        error = params.get("err-code", "")
        return [
            StatusReport(
                carrier_message_id="",  # a segment's id: the message is found by client-ref
                carrier_status=status,
                bitrix_status=STATUS_MAP[status],
                message_key=params.get("client-ref", ""),
                error_code=f"VONAGE_ERR_{error}" if error and error != "0" else "",
                error_message=_ERR_TEXT.get(error, "") if error and error != "0" else "",
                part_id=part,
            )
        ]

    def parse_inbound(self, request: CallbackRequest) -> InboundSms:
        """An inbound SMS, or one part of a long one (``concat_ref``/``concat_total``/``concat_part``)."""
        params = self._verified_params(request)
        message_id = params.get("messageId", "")
        msisdn = params.get("msisdn", "")
        if not message_id or not msisdn:
            raise ValueError("Vonage inbound message needs messageId and msisdn")
        ref, total, part = "", 1, 1
        if params.get("concat", "").lower() == "true":
            ref = params.get("concat-ref", "")
            total_text, part_text = params.get("concat-total", ""), params.get("concat-part", "")
            if not _is_digits(total_text) or not _is_digits(part_text):
                raise ValueError("Vonage inbound part: concat-total and concat-part must be integers")
            total, part = int(total_text), int(part_text)
            if not ref or not 1 <= part <= total:
                raise ValueError("Vonage inbound part needs concat-ref and 1 <= concat-part <= concat-total")
        return InboundSms(
            carrier_message_id=message_id,
            from_number=_plus(msisdn),
            to_number=_plus(params.get("to", "")),
            text=params.get("text", ""),
            concat_ref=ref,
            concat_total=total,
            concat_part=part,
        )


def _is_digits(value: str) -> bool:
    return value.isascii() and value.isdigit()


def _plus(number: str) -> str:
    """E.164 with its "+" when Vonage gives bare digits; anything else (a sender id) as it is."""
    return "+" + number if _is_digits(number) else number


# Delivery receipt error codes (``err-code``) as Vonage documents them.
_ERR_TEXT = {
    "1": "Unknown",
    "2": "Absent subscriber - temporary",
    "3": "Absent subscriber - permanent",
    "4": "Call barred by user",
    "5": "Portability error",
    "6": "Anti-spam rejection",
    "7": "Handset busy",
    "8": "Network error",
    "9": "Illegal number",
    "10": "Illegal message",
    "11": "Unroutable",
    "12": "Destination unreachable",
    "13": "Subscriber age restriction",
    "14": "Number blocked by carrier",
    "15": "Prepaid insufficient funds",
    "16": "Gateway quota exceeded",
    "50": "Entity filter",
    "51": "Header filter",
    "52": "Content filter",
    "53": "Consent filter",
    "54": "Regulation error",
    "99": "General error",
}


def build(config: CarrierConfig, creds: Mapping[str, str]) -> VonageCarrier:
    """The adapter with a portal's own account (``creds``, ``config.sender``), else the deployment's."""
    env = setting
    if creds.get("signature_secret"):  # a portal's own signature settings come with its account
        signature_secret, method = creds["signature_secret"], creds.get("signature_method", "md5hash")
    else:  # else the deployment's (a portal whose account signs with the same secret)
        signature_secret, method = optional_secret("VONAGE_SIGNATURE_SECRET"), env("VONAGE_SIGNATURE_METHOD", "md5hash")
    return VonageCarrier(
        creds.get("api_key") or env("VONAGE_API_KEY", ""),
        creds.get("api_secret") or optional_secret("VONAGE_API_SECRET"),
        sender=config.sender or env("VONAGE_FROM", ""),
        signature_secret=signature_secret,
        signature_method=method or "md5hash",
        api_base=env("VONAGE_API_BASE", DEFAULT_API),
        timeout=get_settings().http_timeout,
    )


def check(creds: Mapping[str, str], sender: str) -> None:
    """The page's **Check**: ask for the account's balance with these credentials (nothing is sent)."""
    base = setting("VONAGE_API_BASE", DEFAULT_API).rstrip("/")
    params = {"api_key": creds["api_key"], "api_secret": creds["api_secret"]}
    response = checks.http("Vonage", "GET", f"{base}/account/get-balance", params=params)
    try:
        response.json()["value"]
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckFailed("bad_credentials", "Vonage") from exc


def sender_ok(sender: str) -> bool:
    """A number or an alphanumeric sender id (1-11 letters and digits, one letter at least)."""
    return sender.startswith("+") or ALPHANUMERIC.match(sender) is not None


ALPHANUMERIC = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")

SPEC = CarrierSpec(
    name="vonage",
    title={"en": "Vonage", "ru": "Vonage"},
    fields=(
        Field("api_key", {"en": "API key", "ru": "API key"}),
        Field("api_secret", {"en": "API secret", "ru": "API secret"}, secret=True),
        Field(
            "signature_secret",
            {"en": "Signature secret (signed receipts)", "ru": "Signature secret (подпись отчётов)"},
            secret=True,
            required=False,  # required only where the deployment has none (carriers.unverifiable)
        ),
        Field(
            "signature_method",
            {"en": "Signature method", "ru": "Метод подписи"},
            required=False,
            choices=SIGNATURE_METHODS,
            invalid={
                "en": f"The signature method must be one of: {', '.join(SIGNATURE_METHODS)}.",
                "ru": f"Метод подписи должен быть одним из: {', '.join(SIGNATURE_METHODS)}.",
            },
        ),
    ),
    sender_ok=sender_ok,
    sender_invalid={
        "en": "A Vonage sender is a number in international format (+...) or an alphanumeric ID of up to 11 letters and digits.",
        "ru": "Отправитель Vonage — номер в международном формате (+...) или буквенное имя до 11 латинских букв и цифр.",
    },
    check=check,
    settings=(
        "VONAGE_API_KEY",
        "VONAGE_API_SECRET",
        "VONAGE_SIGNATURE_SECRET",
        "VONAGE_SIGNATURE_METHOD",
        "VONAGE_FROM",
        "VONAGE_API_BASE",
    ),
    build=build,
    # 6 unroutable prefix, 15 sender id not allowed for this destination, 29 destination not whitelisted
    route_codes=frozenset({"VONAGE_6", "VONAGE_15", "VONAGE_29"}),
    secret_keys=("api_key", "api_secret"),  # + signature_secret, signature_method: its own signed receipts
    default_sender="VONAGE_FROM",
    price_from="send",  # message-price per segment
    # 4 Invalid credentials (or HTTP 401/403), 8 Partner account barred, 9 Partner quota exceeded (no balance).
    account_refusals={
        "VONAGE_4": holds.CREDENTIALS,
        "VONAGE_HTTP_401": holds.CREDENTIALS,
        "VONAGE_HTTP_403": holds.CREDENTIALS,
        "VONAGE_8": holds.SUSPENDED,
        "VONAGE_9": holds.BALANCE,
    },
    callback_secret="signature_secret",  # noqa: S106 (a key's name, not a secret)
    callback_secret_setting="VONAGE_SIGNATURE_SECRET",  # noqa: S106
    callback_secret_parameter="VonageSignatureSecretParameter",  # noqa: S106
    callback_key=lambda request: receipt_params(request).get("client-ref", ""),
    inbound_to=lambda request: receipt_params(request).get("to", ""),
)
