"""A portal's own carrier: which carrier, the sender identity, the default country, and a reference to
its credentials in Secrets Manager; and its routing by destination and fallback carrier, with its own
accounts for the carriers those name. Set by an operator (``make portal-carrier``), read by dispatch and
by the status route within seconds: no redeploy. Credentials never enter DynamoDB."""

from __future__ import annotations

from b24sms.adapters import carriers, store
from b24sms.adapters.config import secret_json
from b24sms.domain import phones, routing
from b24sms.domain.models import CarrierConfig
from b24sms.domain.routing import Routing
from b24sms.usecases.number_routes import remember_route


class InvalidCarrierConfig(ValueError):
    pass


def validate(config: CarrierConfig, check_secret: bool = True) -> CarrierConfig:
    import phonenumbers  # cold start: ~40 ms, paid only where a configuration is checked (the CLI)

    spec = carriers.specs().get(config.carrier)
    if spec is None:
        raise InvalidCarrierConfig(f"unknown carrier {config.carrier!r}; one of {', '.join(carriers.known())}")
    country = config.default_country.upper()
    if country and country not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidCarrierConfig(f"{config.default_country!r} is not an ISO country code phonenumbers knows (e.g. RU, US, DE)")
    reference = config.credentials.strip()
    if reference.startswith("{") or "auth_token" in reference or "api_secret" in reference:
        raise InvalidCarrierConfig("credentials must be the name or ARN of a Secrets Manager secret, never the credentials")
    if reference and not spec.own_credentials:
        raise InvalidCarrierConfig(f"{config.carrier} uses the deployment's IAM role: no credentials to reference")
    values: dict[str, str] = {}
    if reference and check_secret:
        try:
            values = secret_json(reference)
        except Exception as exc:
            raise InvalidCarrierConfig(f"cannot read secret {reference!r}: {type(exc).__name__}: {exc}") from exc
        missing = [k for k in spec.secret_keys if not values.get(k)]
        if missing:
            raise InvalidCarrierConfig(f"secret {reference!r} lacks {', '.join(missing)} for {config.carrier}")
    unverifiable = carriers.unverifiable(config.carrier, values) if check_secret or not reference else ""
    if unverifiable:  # its callbacks could never be verified: refused rather than taken unsigned
        where = f"secret {reference!r}" if reference else "the portal's configuration"
        raise InvalidCarrierConfig(
            f"{where} lacks {unverifiable} for {config.carrier}, and the deployment has no "
            f"{spec.callback_secret_setting}: its callbacks could not be verified"
        )
    return CarrierConfig(config.carrier, config.sender.strip(), country, reference)


def configure(member_id: str, config: CarrierConfig | None, check_secret: bool = True) -> CarrierConfig | None:
    """Give a portal its own carrier (None: back to the deployment's default). Raises
    InvalidCarrierConfig, or LookupError for a portal that never installed the app."""
    valid = validate(config, check_secret) if config else None
    if not store.portals.set_carrier_config(member_id, valid.to_item() if valid else {}):
        raise LookupError(f"no portal with member_id {member_id!r}")
    portal = store.portals.get_portal(member_id)
    if portal is not None:
        remember_route(portal)  # an SMS to the portal's number finds it (two-way SMS)
    return valid


def configure_routing(
    member_id: str, entries: dict[str, str], accounts: list[CarrierConfig] | None = None, check_secret: bool = True
) -> Routing:
    """Give a portal its routing table (``+7=smsru, *=twilio, fallback=vonage``; empty: the deployment's)
    and its own accounts for the carriers it names (each checked as its main carrier's is; a named
    carrier without one sends with the deployment's account). Raises InvalidCarrierConfig, or
    LookupError for a portal that never installed the app."""
    try:
        table = routing.validate(entries, carriers.known(), is_region=phones.is_region)
    except routing.InvalidRouting as exc:
        raise InvalidCarrierConfig(str(exc)) from exc
    named = set(table.routes.values()) | ({table.fallback} if table.fallback else set())
    own: dict[str, dict[str, str]] = {}
    for account in accounts or []:
        if account.carrier not in named:
            raise InvalidCarrierConfig(f"an account for {account.carrier!r}, which the routing does not name")
        valid = validate(account, check_secret)
        own[valid.carrier] = {k: v for k, v in valid.to_item().items() if k != "carrier"}
    if not store.portals.set_routing(member_id, table.to_item(), own):
        raise LookupError(f"no portal with member_id {member_id!r}")
    return table
