"""A portal's own carrier: which carrier, the sender identity, the default country, and a reference to
its credentials in Secrets Manager. Set by an operator (``make portal-carrier``), read by dispatch and
by the status route within seconds: no redeploy. Credentials never enter DynamoDB."""

from __future__ import annotations

from b24sms import storage
from b24sms.carriers import KNOWN
from b24sms.config import secret_json
from b24sms.models import CarrierConfig

# What a credentials secret (JSON) must hold for each carrier. AWS needs none: IAM authenticates.
REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "sandbox": ("secret",),
    "twilio": ("account_sid", "auth_token"),
    "vonage": ("api_key", "api_secret"),  # + signature_secret, signature_method for signed receipts
    "aws": (),
}


class InvalidCarrierConfig(ValueError):
    pass


def validate(config: CarrierConfig, check_secret: bool = True) -> CarrierConfig:
    import phonenumbers

    if config.carrier not in KNOWN:
        raise InvalidCarrierConfig(f"unknown carrier {config.carrier!r}; one of {', '.join(KNOWN)}")
    country = config.default_country.upper()
    if country and country not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidCarrierConfig(f"{config.default_country!r} is not an ISO country code phonenumbers knows (e.g. RU, US, DE)")
    reference = config.credentials.strip()
    if reference.startswith("{") or "auth_token" in reference or "api_secret" in reference:
        raise InvalidCarrierConfig("credentials must be the name or ARN of a Secrets Manager secret, never the credentials")
    if reference and config.carrier == "aws":
        raise InvalidCarrierConfig("AWS End User Messaging uses the deployment's IAM role: no credentials to reference")
    if reference and check_secret:
        try:
            values = secret_json(reference)
        except Exception as exc:
            raise InvalidCarrierConfig(f"cannot read secret {reference!r}: {type(exc).__name__}: {exc}") from exc
        missing = [k for k in REQUIRED_KEYS[config.carrier] if not values.get(k)]
        if missing:
            raise InvalidCarrierConfig(f"secret {reference!r} lacks {', '.join(missing)} for {config.carrier}")
    return CarrierConfig(config.carrier, config.sender.strip(), country, reference)


def configure(member_id: str, config: CarrierConfig | None, check_secret: bool = True) -> CarrierConfig | None:
    """Give a portal its own carrier (None: back to the deployment's default). Raises
    InvalidCarrierConfig, or LookupError for a portal that never installed the app."""
    valid = validate(config, check_secret) if config else None
    if not storage.set_carrier_config(member_id, valid.to_item() if valid else {}):
        raise LookupError(f"no portal with member_id {member_id!r}")
    portal = storage.get_portal(member_id)
    if portal is not None:
        from b24sms import openlines

        openlines.remember_route(portal)  # an SMS to the portal's number finds it (two-way SMS)
    return valid
