"""The carrier interface: send one SMS, and read (verifying its signature) a status callback or an
inbound SMS; and ``CarrierSpec``, what a carrier module declares about itself.

An adapter is one small class; real carriers (Twilio, AWS End User Messaging, Vonage) implement
the same three methods against their HTTP APIs, with a configurable base URL so tests can point
them at local fakes. Each carrier module also holds a ``SPEC``: everything the rest of the code
needs to know about the carrier, readable without loading its HTTP stack or SDK.
"""

from __future__ import annotations

import hmac
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from b24sms.domain.models import CarrierConfig


@dataclass(frozen=True)
class OutboundSms:
    key: str  # our reference (member_id.message_id), handed to the carrier and echoed in callbacks
    to: str
    body: str
    status_callback_url: str
    encoding: str = "GSM-7"  # or UCS-2 (segments.py): some carriers must be told


@dataclass(frozen=True)
class SendResult:
    carrier_message_id: str
    carrier_status: str = "accepted"
    part_ids: tuple[str, ...] = ()  # carriers with one id per segment (Vonage): all of them
    price: str = ""  # what the send answer says the SMS cost (``domain.prices``), "" when it does not say
    price_unit: str = ""


@dataclass(frozen=True)
class CallbackRequest:
    url: str  # the exact public URL the carrier called (signatures cover it)
    headers: dict[str, str]  # lower-cased names
    body: str
    query: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StatusReport:
    carrier_message_id: str
    carrier_status: str
    bitrix_status: str | None  # None: nothing to tell the portal (e.g. "queued" at the carrier)
    message_key: str = ""
    error_code: str = ""
    error_message: str = ""
    part_id: str = ""  # a report about one segment (Vonage): combined with the others' reports
    price: str = ""  # what the report says the whole SMS cost (``domain.prices``), "" when it does not say
    price_unit: str = ""


@dataclass(frozen=True)
class InboundSms:
    carrier_message_id: str
    from_number: str  # the customer, E.164 with a leading "+"
    to_number: str  # our number as the carrier gives it, E.164 with "+" when it is a number
    text: str
    concat_ref: str = ""  # Vonage long messages: the parts share this reference
    concat_total: int = 1
    concat_part: int = 1  # 1-based


class CarrierError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class PermanentCarrierError(CarrierError):
    """The carrier refused this message for good (bad number, blocked, …): it fails now."""


class TransientCarrierError(CarrierError):
    """Not sent; try again later (the connection refused, a name that did not resolve, a connect
    timeout: nothing of the request went out; or an answer saying so: 5xx, 429)."""


class CarrierUnreachable(TransientCarrierError):
    """The connection failed before a byte of the request was written (refused, a name that did not
    resolve, a connect timeout): the carrier provably does not have the SMS, so another may send it."""


class CarrierOutcomeUnknown(CarrierError):
    """The request may have reached the carrier but no (whole) answer came back: a read timeout, the
    connection closed or reset after the request was written. It may have taken the SMS: sending
    again could send it twice, so we don't."""


class CarrierThrottled(TransientCarrierError):
    """The carrier asks us to slow down (HTTP 429): retry after ``retry_after`` seconds; this does
    not count as a failed attempt."""

    def __init__(self, code: str, message: str, retry_after: float = 1.0) -> None:
        super().__init__(code, message)
        self.retry_after = retry_after


class SignatureError(Exception):
    """A callback whose signature is missing or wrong: refused, nothing changes."""


def same_signature(given: str, expected: str) -> bool:
    """A signature as a caller sent it (any text: a header, a parameter) against ours, in constant
    time over their UTF-8 bytes: ``hmac.compare_digest`` refuses non-ASCII ``str``, which would be a
    500 where a forged signature must be a 403."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


class Carrier(Protocol):
    name: str

    def send(self, sms: OutboundSms) -> SendResult: ...

    def parse_status(self, request: CallbackRequest) -> list[StatusReport]: ...

    def parse_inbound(self, request: CallbackRequest) -> InboundSms: ...


class StatusQuery(Protocol):
    """A carrier adapter that can be asked for a message's status (``CarrierSpec.status_queries_per_second``).
    ``None``: the carrier does not know the message; raises ``TransientCarrierError`` when it could not
    be asked (the reconciler asks again at its next interval)."""

    def query_status(self, carrier_message_id: str, key: str) -> StatusReport | None: ...


def get_status(carrier: str, url: str, *, timeout: float, **kwargs: Any) -> Any:
    """GET a status query (idempotent: nothing is sent): the ``requests.Response`` when it answered
    below 500, else ``TransientCarrierError`` (``<CARRIER>_QUERY_FAILED``)."""
    import requests  # cold start: loaded when a function asks a carrier, not when it reads a SPEC

    try:
        response = requests.get(url, timeout=timeout, allow_redirects=False, **kwargs)
    except requests.RequestException as exc:
        raise TransientCarrierError(f"{carrier.upper()}_QUERY_FAILED", f"{type(exc).__name__}") from exc
    if response.status_code >= 500 or response.status_code == 429:
        raise TransientCarrierError(f"{carrier.upper()}_QUERY_FAILED", f"HTTP {response.status_code}")
    return response


class CheckFailed(Exception):
    """A credential check (the page's **Check**) that failed: ``reason`` is one word the page turns into
    a sentence (``unreachable``, ``bad_credentials``, ``no_account``, ``aws_identity``)."""

    def __init__(self, reason: str, carrier: str) -> None:
        super().__init__(f"{carrier}: {reason}")
        self.reason = reason
        self.carrier = carrier


@dataclass(frozen=True)
class Field:
    """One credential a portal's administrator gives on the page (and its secret in Secrets Manager holds)."""

    key: str  # the credentials' key, and the form field's name
    label: Mapping[str, str]  # by language: {"en": ..., "ru": ...}
    secret: bool = False  # write-only: a password input, never shown again (the page shows its last 4 characters)
    required: bool = True  # False: kept when given, never required by itself
    pattern: str = ""  # a regular expression the whole value must match ("" any)
    choices: tuple[str, ...] = ()  # a select of these values
    placeholder: str = ""
    invalid: Mapping[str, str] = field(default_factory=dict)  # by language: a value not matching pattern/choices


def no_check(creds: Mapping[str, str], sender: str) -> None:
    """A carrier with nothing to ask before its settings are saved."""


def any_sender(sender: str) -> bool:
    return True


@dataclass(frozen=True)
class CarrierSpec:
    """What a carrier declares about itself (the module's ``SPEC``; ``carriers.spec(name)`` finds it).

    The status mapping (``STATUS_MAP``) and the inbound parser (``parse_inbound``) are the adapter's;
    ``build`` makes the adapter, importing what it needs (``requests``, ``boto3``) only then."""

    name: str  # as in the routes (/carriers/<name>/status), the Carrier parameter and CarrierConfig
    settings: tuple[str, ...]  # the deployment's settings (environment, or SSM through <NAME>_PARAM for secrets)
    build: Callable[[CarrierConfig, Mapping[str, str]], Carrier]  # (portal's config, its secret's values)
    secret_keys: tuple[str, ...] = ()  # what a portal's own credentials secret (JSON) must hold
    own_credentials: bool = True  # False: a portal cannot bring credentials (AWS: the IAM role authenticates)
    default_sender: str = ""  # the setting that names the deployment's default sender
    opt_out_codes: frozenset[str] = frozenset()  # send refusals meaning "the recipient opted out"
    # Send refusals of the account itself, not of one message: error code -> cause (``domain.holds``:
    # credentials, suspended, balance). The account's SMS then wait instead of being retried one by one.
    account_refusals: Mapping[str, str] = field(default_factory=dict)
    # Send refusals meaning "not through this route" (the destination is not served, the sender is not
    # allowed there): such a message may go out through the fallback carrier (docs/carriers.md).
    route_codes: frozenset[str] = frozenset()
    # Our message key as a status callback carries it (unverified: it only chooses whose credentials
    # verify the callback); "" when the callback does not carry it.
    callback_key: Callable[[CallbackRequest], str] = lambda request: ""
    # Our number an inbound SMS webhook says it was sent to (unverified: it only chooses whose
    # credentials verify the webhook: the account that owns that number); "" when it says none.
    inbound_to: Callable[[CallbackRequest], str] = lambda request: ""
    # A secret that only verifies callbacks, when the API credentials do not (Vonage's signature secret):
    # the credentials' key that holds a portal's own, and the deployment's setting that is used when a
    # portal has none. A setup with neither is refused (``carriers.unverifiable``): never unsigned.
    callback_secret: str = ""
    callback_secret_setting: str = ""
    # The template's parameter naming the SSM parameter behind ``callback_secret_setting`` (the CLI
    # learns from a stack's parameters whether the deployment has one).
    callback_secret_parameter: str = ""
    # The carrier's own name on the page, by language (``en`` is the fallback).
    title: Mapping[str, str] = field(default_factory=dict)
    # What a portal's administrator gives on the page (``secret_keys`` are the required ones).
    fields: tuple[Field, ...] = ()
    # Which senders the carrier takes beyond the page's general rule (a number or an id).
    sender_ok: Callable[[str], bool] = any_sender
    sender_invalid: Mapping[str, str] = field(default_factory=dict)  # by language: what ``sender_ok`` refuses
    # The page's **Check**: asks the carrier about these credentials (and sender); raises ``CheckFailed``.
    check: Callable[[Mapping[str, str], str], None] = no_check
    # Whether a customer's reply reaches us (an inbound webhook or events); False: outbound only.
    two_way: bool = True
    # What the status and inbound routes answer the carrier: (content type, body); None: our JSON.
    status_answer: tuple[str, str] | None = None
    inbound_answer: tuple[str, str] | None = None
    # The portal a status callback says it is for (from its URL; unverified: it only chooses whose
    # credentials verify it), for carriers whose callbacks carry no key of ours; "" when none.
    callback_portal: Callable[[CallbackRequest], str] = lambda request: ""
    # The callback URL to register in the carrier's own panel (base URL, member_id or "", credentials),
    # shown to the portal's administrators; None: we give the carrier the URL with each SMS.
    panel_callback_url: Callable[[str, str, Mapping[str, str]], str] | None = None
    # The callback secret is made by us when a portal saves its account (no carrier console shows one).
    generates_callback_secret: bool = False
    # The carrier's error codes as the page explains them: ``{code: {"en": ..., "ru": ...}}``.
    error_texts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # Where the carrier tells what an SMS cost, with no call of its own: "send" (the send answer),
    # "report" (a status report), "" (neither: the price is not recorded; no extra call per SMS).
    price_from: str = ""
    # Price per SMS part by country, as the carrier publishes it (a placeholder: none declared yet).
    prices: Mapping[str, str] = field(default_factory=dict)
    # Reconciliation (usecases/reconcile.py): seconds after which a message still without a final
    # status is asked about (the carrier's usual delivery time), and how many status queries a second
    # one account of it may be sent; 0: the carrier has no status query (the adapter's
    # ``query_status``), and such messages end ``undelivered`` after ``RECONCILE_GIVE_UP_AFTER``.
    delivery_time: int = 1800
    status_queries_per_second: float = 0.0
    # The price from the status query (``query_status``'s report carries it), for a carrier whose
    # callbacks and send answers carry none: seconds after a final status when the carrier has it (the
    # reconciler asks once then, usecases/reconcile_price.py); 0: never fetched.
    price_after: int = 0


def request_written(exc: BaseException) -> bool:
    """Whether a failed HTTP request may have reached the other end (``requests``' exceptions): False
    only when it provably did not: the name did not resolve, the connection was refused, the connect
    timed out, the server's certificate was refused at the handshake. Anything later (the connection
    closed, reset or timed out once the request was being written or answered: "Connection aborted",
    RemoteDisconnected, ProtocolError, ReadTimeout, ChunkedEncodingError, other TLS errors) may have
    been read, and so is True."""
    import requests  # cold start: loaded when a function sends, not when it reads a carrier's SPEC
    from urllib3.exceptions import ConnectTimeoutError, MaxRetryError  # cold start: as requests

    if isinstance(exc, requests.ConnectTimeout):  # connect timed out (requests raises it only then)
        return False
    if isinstance(exc, requests.exceptions.SSLError):  # verified before a byte of the request is sent
        return not any(isinstance(e, ssl.SSLCertVerificationError) for e in _causes(exc))
    if isinstance(exc, requests.ConnectionError) and not isinstance(exc, requests.exceptions.SSLError):
        reason = exc.args[0] if exc.args else None
        if isinstance(reason, MaxRetryError):
            reason = reason.reason
        # NewConnectionError (refused, unreachable) and NameResolutionError are ConnectTimeoutErrors
        if isinstance(reason, ConnectTimeoutError):
            return False
    return True


def _causes(exc: BaseException) -> list[BaseException]:
    """An exception and what it wraps (requests and urllib3 keep the cause in ``args[0]`` or ``reason``)."""
    found: list[BaseException] = []
    current: object = exc
    while isinstance(current, BaseException) and current not in found and len(found) < 10:
        found.append(current)
        inner = getattr(current, "reason", None)
        if not isinstance(inner, BaseException):
            inner = current.args[0] if current.args and isinstance(current.args[0], BaseException) else current.__cause__
        current = inner
    return found


def post_once(carrier: str, url: str, *, timeout: float, **kwargs: Any) -> Any:
    """POST one send to an HTTP carrier, at most once: no retry of requests or urllib3 (nor a
    redirect) ever repeats it. The ``requests.Response``, whatever its status; else
    ``TransientCarrierError`` (``<CARRIER>_UNREACHABLE``) when the request provably never left
    (``request_written``), or ``CarrierOutcomeUnknown`` (``<CARRIER>_NO_ANSWER``) when it may have."""
    import requests  # cold start: loaded when a function sends, not when it reads a carrier's SPEC
    from requests.adapters import HTTPAdapter  # cold start: as requests
    from urllib3.util.retry import Retry  # cold start: as requests

    code = carrier.upper()
    try:
        with requests.Session() as session:
            never_again = HTTPAdapter(max_retries=Retry(total=0, read=False, redirect=False))
            session.mount("http://", never_again)
            session.mount("https://", never_again)
            return session.post(url, timeout=timeout, allow_redirects=False, **kwargs)
    except requests.RequestException as exc:
        if not request_written(exc):
            raise CarrierUnreachable(f"{code}_UNREACHABLE", f"{type(exc).__name__}: the request never left") from exc
        raise CarrierOutcomeUnknown(f"{code}_NO_ANSWER", f"no answer from {carrier}: {type(exc).__name__}") from exc
