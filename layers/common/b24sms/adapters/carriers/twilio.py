"""Twilio Programmable Messaging, with one HTTP call per send (no SDK shipped).

- send: ``POST {api}/2010-04-01/Accounts/{AccountSid}/Messages.json`` (HTTP Basic), ``From`` or
  ``MessagingServiceSid``, and a ``StatusCallback`` that carries our key (``?ref=``), so a callback
  finds its message even before the Twilio SID is recorded, and Twilio's connection overrides
  (``#rc=5&rp=all``), without which Twilio does not retry a callback we answered 5xx;
- errors: Twilio's error codes decide permanent vs transient; 429 slows us down; a connection lost
  once the request may have been written (closed, reset, read timeout) means Twilio may have the
  message, so it is never sent again (``base.post_once``);
- callbacks (status and inbound SMS): ``X-Twilio-Signature`` = base64(HMAC-SHA1(auth token, URL + sorted
  key/value pairs)), over the exact public URL Twilio called (the official validator also tries it with
  and without the port). Twilio reassembles long inbound messages: one webhook per message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

from b24sms.adapters.carriers import checks
from b24sms.adapters.carriers.base import (
    CallbackRequest,
    CarrierSpec,
    CarrierThrottled,
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
from b24sms.adapters.config import get_settings, secret, setting
from b24sms.domain import holds, prices
from b24sms.domain.formdata import decode_flat
from b24sms.domain.models import CarrierConfig
from b24sms.domain.privacy import mask_carrier_text

DEFAULT_API = "https://api.twilio.com"

# Every status Twilio documents, and what the portal is told (None: nothing yet).
STATUS_MAP: dict[str, str | None] = {
    "queued": None,
    "accepted": None,
    "scheduled": None,
    "sending": None,
    "sent": "sent",
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "undelivered",
    "partially_delivered": "undelivered",
    "failed": "failed",
    "canceled": "failed",
    "receiving": None,
    "received": None,
}

# Refusals that no retry will change (the number, the route, the account, the content).
PERMANENT_CODES = frozenset(
    {
        21211,  # invalid 'To'
        21212,  # invalid 'From'
        21408,  # region not enabled
        21606,  # 'From' not a valid message-capable number
        21610,  # recipient unsubscribed (STOP)
        21612,  # cannot route to this number
        21614,  # 'To' is not a mobile number
        21617,  # body too long
        21659,  # 'From' not a Twilio number
        30003,  # unreachable handset
        30004,  # blocked
        30005,  # unknown destination
        30006,  # landline or unreachable carrier
        30007,  # filtered as spam
    }
)


# Twilio's webhook connection overrides, a URL fragment Twilio reads and never sends: retry a callback
# up to 5 times (its maximum) on any failure, within Twilio's total time of 15 s. By default Twilio
# retries once, on a connect timeout only, so a status we answered 5xx (store busy) would be lost.
CALLBACK_OVERRIDES = "rc=5&rp=all"


def signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    payload = url + "".join(f"{k}{params[k]}" for k in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()).decode()


def _url_variants(url: str) -> list[str]:
    """The URL as given, and with the default port added or removed, as Twilio's own validator does."""
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    host = parts.hostname or ""
    variants = [url]
    if parts.port is None and default:
        variants.append(urlunsplit((parts.scheme, f"{host}:{default}", parts.path, parts.query, parts.fragment)))
    elif parts.port == default:
        variants.append(urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment)))
    return variants


class TwilioCarrier:
    name = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        sender: str = "",
        messaging_service_sid: str = "",
        api_base: str = DEFAULT_API,
        timeout: float = 10.0,
    ) -> None:
        if not sender and not messaging_service_sid:
            raise ValueError("Twilio needs a From number/sender id or a MessagingServiceSid")
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.sender = sender
        self.messaging_service_sid = messaging_service_sid
        self.api_base = api_base.rstrip("/")
        self.timeout = timeout

    def send(self, sms: OutboundSms) -> SendResult:
        callback = f"{sms.status_callback_url}?ref={sms.key}#{CALLBACK_OVERRIDES}"
        form = {"To": sms.to, "Body": sms.body, "StatusCallback": callback}
        if self.messaging_service_sid:
            form["MessagingServiceSid"] = self.messaging_service_sid
        else:
            form["From"] = self.sender
        url = f"{self.api_base}/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        # at most once: retried only if the request never left (post_once), else Twilio may have it
        response = post_once("Twilio", url, data=form, auth=(self.account_sid, self.auth_token), timeout=self.timeout)
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code in (200, 201):
            return SendResult(str(body["sid"]), str(body.get("status") or "queued"))
        code = body.get("code")
        message = mask_carrier_text(str(body.get("message") or f"HTTP {response.status_code}"))  # 21211's holds the number
        if response.status_code == 429 or code == 20429:
            retry_after = float(response.headers.get("Retry-After") or 1)
            raise CarrierThrottled(f"TWILIO_{code or 429}", message, retry_after)
        if response.status_code >= 500:
            raise TransientCarrierError(f"TWILIO_{code or response.status_code}", message)
        if response.status_code in (401, 403):
            raise TransientCarrierError(f"TWILIO_{code or response.status_code}", f"credentials refused: {message}")
        if isinstance(code, int) and code not in PERMANENT_CODES and response.status_code != 400:
            raise TransientCarrierError(f"TWILIO_{code}", message)
        raise PermanentCarrierError(f"TWILIO_{code or response.status_code}", message)

    def query_status(self, carrier_message_id: str, key: str) -> StatusReport | None:
        """Fetch the Message resource: its status as a callback would carry it (None: 404, unknown)."""
        url = f"{self.api_base}/2010-04-01/Accounts/{self.account_sid}/Messages/{carrier_message_id}.json"
        response = get_status("Twilio", url, auth=(self.account_sid, self.auth_token), timeout=self.timeout)
        if response.status_code == 404:
            return None
        try:
            body = response.json()
            status = str(body["status"]).lower() if response.status_code == 200 else ""
        except (ValueError, KeyError, TypeError) as exc:
            raise TransientCarrierError("TWILIO_QUERY_FAILED", "unexpected answer from Twilio") from exc
        if status not in STATUS_MAP:
            raise TransientCarrierError("TWILIO_QUERY_FAILED", f"HTTP {response.status_code}")
        code = body.get("error_code")
        return StatusReport(
            carrier_message_id,
            status,
            STATUS_MAP[status],
            key,
            f"TWILIO_{code}" if code else "",
            str(body.get("error_message") or ""),
            price=prices.total(body.get("price")),  # negative, a string; null until Twilio has it
            price_unit=str(body.get("price_unit") or "").upper() if prices.total(body.get("price")) else "",
        )

    def _verified_params(self, request: CallbackRequest) -> dict[str, str]:
        """The callback's form fields, once its signature and account are checked (else SignatureError)."""
        params = decode_flat(request.body)
        given = request.headers.get("x-twilio-signature", "")
        # Twilio's docs do not say whether the signed URL keeps the overrides' fragment (which never
        # reaches us): either is our URL signed with our token.
        urls = _url_variants(request.url) + _url_variants(f"{request.url}#{CALLBACK_OVERRIDES}")
        if not given or not any(same_signature(given, signature(self.auth_token, url, params)) for url in urls):
            raise SignatureError("missing or wrong X-Twilio-Signature")
        if params.get("AccountSid") and params["AccountSid"] != self.account_sid:
            raise SignatureError("callback for another Twilio account")
        return params

    def parse_status(self, request: CallbackRequest) -> list[StatusReport]:
        params = self._verified_params(request)
        sid = params.get("MessageSid") or params.get("SmsSid") or ""
        status = (params.get("MessageStatus") or params.get("SmsStatus") or "").lower()
        if not sid or status not in STATUS_MAP:
            raise ValueError("Twilio callback needs MessageSid and a known MessageStatus")
        error_code = params.get("ErrorCode") or ""
        return [
            StatusReport(
                carrier_message_id=sid,
                carrier_status=status,
                bitrix_status=STATUS_MAP[status],
                message_key=request.query.get("ref", ""),
                error_code=f"TWILIO_{error_code}" if error_code else "",
                error_message=params.get("ErrorMessage", ""),
            )
        ]

    def parse_inbound(self, request: CallbackRequest) -> InboundSms:
        """An inbound SMS/MMS webhook (already reassembled by Twilio; a media-only MMS has no text)."""
        params = self._verified_params(request)
        sid = params.get("MessageSid") or ""
        sender = params.get("From") or ""
        if not sid or not sender:
            raise ValueError("Twilio inbound message needs MessageSid and From")
        return InboundSms(carrier_message_id=sid, from_number=sender, to_number=params.get("To", ""), text=params.get("Body", ""))


def build(config: CarrierConfig, creds: Mapping[str, str]) -> TwilioCarrier:
    """The adapter with a portal's own account (``creds``, ``config.sender``), else the deployment's."""
    env = setting
    sender = config.sender or env("TWILIO_FROM", "")
    service = env("TWILIO_MESSAGING_SERVICE_SID", "") if not config.sender else ""
    if sender.startswith("MG"):  # a messaging service, not a number or sender id
        sender, service = "", sender
    return TwilioCarrier(
        creds.get("account_sid") or env("TWILIO_ACCOUNT_SID", ""),
        creds.get("auth_token") or secret("TWILIO_AUTH_TOKEN"),
        sender=sender,
        messaging_service_sid=service,
        api_base=env("TWILIO_API_BASE", DEFAULT_API),
        timeout=get_settings().http_timeout,
    )


def check(creds: Mapping[str, str], sender: str) -> None:
    """The page's **Check**: fetch the account with these credentials (nothing is sent)."""
    base = setting("TWILIO_API_BASE", DEFAULT_API).rstrip("/")
    url = f"{base}/2010-04-01/Accounts/{creds['account_sid']}.json"
    checks.http("Twilio", "GET", url, auth=(creds["account_sid"], creds["auth_token"]))


def sender_ok(sender: str) -> bool:
    """A number (+...), an alphanumeric sender id (1-11 letters and digits, one letter at least) or a
    Messaging Service SID (MG...)."""
    return sender.startswith(("+", "MG")) or ALPHANUMERIC.match(sender) is not None


ALPHANUMERIC = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")

# The errors a portal's log explains (``err.TWILIO_<code>`` on the page).
ERROR_TEXTS: dict[str, dict[str, str]] = {
    "TWILIO_30003": {
        "en": "Unreachable handset: the phone is off or out of coverage.",
        "ru": "Телефон недоступен: выключен или вне зоны сети.",
    },
    "TWILIO_30004": {
        "en": "Blocked: the recipient blocked messages from this sender.",
        "ru": "Получатель заблокировал сообщения от этого отправителя.",
    },
    "TWILIO_30005": {
        "en": "Unknown number: the number does not exist or is no longer in service.",
        "ru": "Номер не существует или больше не обслуживается.",
    },
    "TWILIO_30006": {
        "en": "Landline or unreachable carrier: this number cannot receive SMS.",
        "ru": "Стационарный номер или недоступный оператор: SMS не принимаются.",
    },
    "TWILIO_30007": {"en": "Filtered by the carrier as spam.", "ru": "Оператор отфильтровал сообщение как спам."},
    "TWILIO_30008": {"en": "Unknown error at the recipient's carrier.", "ru": "Неизвестная ошибка у оператора получателя."},
    "TWILIO_21610": {"en": "The recipient replied STOP to this sender.", "ru": "Получатель ответил STOP этому отправителю."},
    "TWILIO_21612": {
        "en": "Twilio cannot route to this number from this sender.",
        "ru": "Twilio не может доставить на этот номер от этого отправителя.",
    },
    "TWILIO_21211": {"en": "Not a valid phone number.", "ru": "Неверный номер телефона."},
    "TWILIO_21408": {
        "en": "Sending to this country is not enabled on the Twilio account.",
        "ru": "Отправка в эту страну не включена в аккаунте Twilio.",
    },
}

# An SMS webhook answered with empty TwiML: no auto-reply.
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'

SPEC = CarrierSpec(
    name="twilio",
    title={"en": "Twilio", "ru": "Twilio"},
    fields=(
        Field(
            "account_sid",
            {"en": "Account SID", "ru": "Account SID"},
            pattern=r"AC[0-9a-fA-F]{32}",
            placeholder="AC…",
            invalid={
                "en": "A Twilio Account SID starts with AC followed by 32 hexadecimal characters.",
                "ru": "Account SID Twilio начинается с AC и 32 шестнадцатеричных символов.",
            },
        ),
        Field("auth_token", {"en": "Auth token", "ru": "Auth token"}, secret=True),
    ),
    sender_ok=sender_ok,
    sender_invalid={
        "en": "A Twilio sender is a number in international format (+...), an alphanumeric ID of up to 11 letters "
        "and digits, or a Messaging Service SID (MG...).",
        "ru": "Отправитель Twilio — номер в международном формате (+...), буквенное имя до 11 латинских букв и цифр "
        "или Messaging Service SID (MG...).",
    },
    check=check,
    inbound_answer=("text/xml; charset=utf-8", EMPTY_TWIML),
    error_texts=ERROR_TEXTS,
    settings=("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM", "TWILIO_MESSAGING_SERVICE_SID", "TWILIO_API_BASE"),
    build=build,
    secret_keys=("account_sid", "auth_token"),
    default_sender="TWILIO_FROM",
    delivery_time=1800,
    status_queries_per_second=10.0,  # fetch the Message resource
    opt_out_codes=frozenset({"TWILIO_21610"}),
    price_from="",  # only the Message resource has price/price_unit, later; its callbacks do not
    price_after=600,  # the Message resource's price is set some minutes after the final status
    # 20003: Authenticate (a wrong SID or token: HTTP 401); 20005: the account is not active (suspended).
    account_refusals={"TWILIO_20003": holds.CREDENTIALS, "TWILIO_401": holds.CREDENTIALS, "TWILIO_20005": holds.SUSPENDED},
    # 21408 sending to the region not enabled, 21612 no route from this sender to this number,
    # 21606 the sender cannot message this destination: another carrier may take it
    route_codes=frozenset({"TWILIO_21408", "TWILIO_21612", "TWILIO_21606"}),
    callback_key=lambda request: request.query.get("ref", ""),  # in our StatusCallback URL
    inbound_to=lambda request: decode_flat(request.body).get("To", ""),
)
