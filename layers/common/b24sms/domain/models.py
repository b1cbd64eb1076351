"""Plain records of the domain. No I/O here: ``adapters/store`` loads and saves them (``to_item`` /
``from_item``, with ``_coerce`` turning DynamoDB's Decimals back into the fields' types)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from b24sms.domain.dispatch_states import DispatchState

INSTALLED = "installed"
UNINSTALLED = "uninstalled"


@dataclass
class Portal:
    member_id: str
    client_endpoint: str
    domain: str = ""
    server_endpoint: str = ""
    access_token: str = ""
    refresh_token: str = ""
    expires_at: int = 0
    token_version: int = 0
    application_token: str = ""
    handler_secret: str = ""
    status: str = INSTALLED
    scope: str = ""
    lang: str = "en"
    registered_handler: str = ""
    registered_name: str = ""
    installed_at: int = 0
    updated_at: int = 0
    # New at each install that follows an uninstall (kept by a re-install): the page's sessions carry it,
    # so a session issued before an uninstall is refused after the reinstall.
    install_id: str = ""
    # The portal's own carrier (see CarrierConfig); empty: the deployment's default carrier.
    carrier_config: dict[str, str] = field(default_factory=dict)
    # Open Lines this portal connected our SMS channel to: line id -> "active".
    openlines: dict[str, str] = field(default_factory=dict)
    # More senders (set on the application's page): CODE -> name and CarrierConfig fields ("" fields:
    # the deployment's defaults). The deployment's SENDER_CODE is not in it: it uses ``carrier_config``.
    senders: dict[str, dict[str, str]] = field(default_factory=dict)
    # The number of the last sender added on the page (CODE ``<SENDER_CODE>_<n>``): it only rises, so a
    # removed sender's CODE is never handed out again (the log and statistics name senders by CODE).
    sender_seq: int = 0
    # Carrier accounts that refused us (``domain.holds``): account key -> the hold's fields.
    account_holds: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Admin alerts told and not yet over (``domain.alerts``): cause -> since.
    alerts: dict[str, int] = field(default_factory=dict)
    # Administrators seen opening the application's page (user id -> when): admin alerts go to them and to
    # the user who installed the app; a user found no longer an admin at the page is taken off.
    admins: dict[str, int] = field(default_factory=dict)
    # The delivery rate (percent) of the last hour below which the admins are told (set on the page); 0: never.
    delivery_alert: int = 80
    # The CRM timeline gets an entry for delivered SMS too (the page's CRM section; off by default).
    timeline_delivered: bool = False
    # Routing by destination (domain/routing.py): "RU" / "+7" / "*" / "fallback" -> carrier; empty: the
    # deployment's table applies (to portals on the deployment's carrier).
    routing: dict[str, str] = field(default_factory=dict)
    # The portal's accounts for the carriers its routing names: carrier -> CarrierConfig item (sender,
    # credentials' secret). A routed carrier without one sends with the deployment's account.
    carrier_accounts: dict[str, dict[str, str]] = field(default_factory=dict)
    # "off": the reconciler never asks the carrier about this portal's late statuses (set on the page).
    reconcile: str = ""
    # Quiet hours (domain/quiet.QuietHours.to_item: start, end, zone, exempt CODEs); empty: off.
    quiet_hours: dict[str, Any] = field(default_factory=dict)

    @property
    def installed(self) -> bool:
        return self.status == INSTALLED

    def has_scope(self, scope: str) -> bool:
        """The portal granted the app ``scope`` (``scope``: the granted ones, comma- or space-separated)."""
        return scope in {s.strip() for s in self.scope.replace(" ", ",").split(",")}

    @property
    def carrier(self) -> CarrierConfig | None:
        return CarrierConfig.from_item(self.carrier_config) if self.carrier_config else None

    def carrier_for(self, code: str) -> CarrierConfig | None:
        """The carrier settings of the sender ``code``: an added sender's own, else the portal's."""
        extra = self.senders.get(code) if code else None
        if extra and extra.get("carrier"):
            return CarrierConfig.from_item(extra)
        return self.carrier

    def account(self, carrier: str) -> CarrierConfig | None:
        """The portal's own account for ``carrier`` (routing), else its main carrier's when it is that one."""
        found = self.carrier_accounts.get(carrier)
        if found:
            return CarrierConfig.from_item({**found, "carrier": carrier})
        main = self.carrier
        return main if main and main.carrier == carrier else None

    def own_configs(self) -> list[CarrierConfig]:
        """Every carrier configuration of the portal's own: main, added senders', routing accounts'."""
        found = [self.carrier, *(self.carrier_for(code) for code in sorted(self.senders))]
        found += [self.account(name) for name in sorted(self.carrier_accounts)]
        return [c for c in found if c is not None]

    def to_item(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Portal:
        return cls(**_coerce(cls, item))


@dataclass(frozen=True)
class CarrierConfig:
    """Which carrier a portal sends through, as whom, and where its credentials are. Credentials
    are never stored here: ``credentials`` names a Secrets Manager secret (JSON) holding them."""

    carrier: str
    sender: str = ""  # a number, an alphanumeric sender id, a Twilio messaging service (MG…), an AWS pool
    default_country: str = ""  # ISO code for national numbers, e.g. RU for 8 (999) 123-45-67
    credentials: str = ""  # Secrets Manager name or ARN; "": the deployment's default credentials

    def to_item(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v}

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> CarrierConfig:
        return cls(**{f.name: str(item.get(f.name) or "") for f in fields(cls)})


@dataclass
class Message:
    member_id: str
    message_id: str
    to: str = ""
    body: str = ""
    code: str = ""
    status: str = "queued"
    status_rank: int = 0
    pushed_rank: int = 1  # Bitrix24 marks a message `sent` when it hands it to us
    dispatch_state: DispatchState = DispatchState.ACCEPTED
    attempts: int = 0
    lease_until: int = 0
    carrier: str = ""
    carrier_message_id: str = ""
    carrier_status: str = ""
    carrier_sender: str = ""  # the portal's own sender and credentials reference it was sent with ("": defaults),
    carrier_credentials: str = ""  # so its callbacks verify even after the portal's configuration changes
    sent_to: str = ""  # the recipient in E.164, as handed to the carrier
    encoding: str = ""  # GSM-7 or UCS-2
    segments: int = 0
    # Per-segment receipts (Vonage): segment id -> {"s": carrier status, "b": Bitrix24 status or "", "r": rank}
    parts: dict[str, dict[str, Any]] = field(default_factory=dict)
    parts_total: int = 0  # how many segments the carrier took
    # An operator's Open Lines reply sent as this SMS: line, chat_id (external), im_chat_id, im_message_id.
    openlines: dict[str, str] = field(default_factory=dict)
    # The CRM items the SMS was sent from (the HANDLER call's bindings): [OWNER_TYPE_ID, OWNER_ID] each.
    bindings: list[list[int]] = field(default_factory=list)
    error_code: str = ""
    error_message: str = ""
    price: str = ""  # what the carrier said the SMS cost (``domain.prices``: a positive decimal), "" unknown
    price_unit: str = ""  # its currency (USD, EUR, ...)
    # Sent by the fallback carrier: why the first carrier did not take it ("TWILIO_21612 at twilio").
    failover: str = ""
    created_at: int = 0
    updated_at: int = 0
    expires_at: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    # Held by the portal's quiet hours until then (store/quiet.py writes it; never written from here).
    quiet_until: int = 0

    @property
    def key(self) -> str:
        """Our reference for a message, handed to carriers and found again in their callbacks."""
        return f"{self.member_id}.{self.message_id}"

    def to_item(self) -> dict[str, Any]:
        item = asdict(self)
        item.pop("quiet_until")  # by-quiet's key: only store/quiet.py sets or removes it
        if self.carrier and self.carrier_message_id:
            item["carrier_ref"] = f"{self.carrier}#{self.carrier_message_id}"
        return {k: v for k, v in item.items() if v != "" and not (k == "bindings" and not v)}

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Message:
        return cls(**_coerce(cls, item))


def split_key(key: str) -> tuple[str, str] | None:
    """(member_id, message_id) of our key, or None for anything that cannot be one (too long included)."""
    if len(key) > 200:
        return None
    member_id, sep, message_id = key.partition(".")
    return (member_id, message_id) if sep and member_id and message_id else None


def _coerce(cls: type, item: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB hands numbers back as Decimal: turn them into the field's own type."""
    out: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in item:
            continue
        value = item[f.name]
        if f.type in ("int", int):
            value = int(value)
        elif f.name == "parts":
            value = {
                str(k): {"s": str(v.get("s", "")), "b": str(v.get("b", "")), "r": int(v.get("r", 0))} for k, v in value.items()
            }
        elif f.name in ("carrier_config", "openlines", "routing"):
            value = {str(k): str(v) for k, v in value.items()}
        elif f.name == "dispatch_state":
            value = DispatchState(value)
        elif f.name == "alerts":
            value = {str(k): int(v) for k, v in value.items()}
        elif f.name == "account_holds":
            value = {str(k): {str(a): (b if isinstance(b, str) else int(b)) for a, b in v.items()} for k, v in value.items()}
        elif f.name in ("senders", "carrier_accounts"):
            value = {str(k): {str(a): str(b) for a, b in v.items()} for k, v in value.items()}
        elif f.name == "bindings":
            value = [[int(a), int(b)] for a, b in value]
        elif f.name == "history":
            value = [{k: (int(v) if k == "at" else v) for k, v in entry.items()} for entry in value]
        out[f.name] = value
    return out
