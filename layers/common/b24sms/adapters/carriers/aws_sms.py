"""AWS End User Messaging SMS (``pinpoint-sms-voice-v2``): one ``SendTextMessage`` per SMS.

- send: ``SendTextMessage`` with the origination identity (a phone number, sender id or pool), the
  configuration set whose event destination reports deliveries, and ``Context={"b24_key": key}`` so
  a delivery event finds its message. The Lambda's IAM role authenticates us: no secret to keep;
- errors: the API's exception names decide permanent vs transient; botocore's own retries are off
  (a retried send after a read timeout could send twice): our queue retries, as for every carrier;
- delivery events come through SNS (the configuration set's event destination, which the template
  creates) into the ``SmsEvents`` function: no webhook, so trust comes from IAM and the topic's policy,
  and the HTTP status route refuses anything claiming to be from AWS.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from b24sms.adapters.carriers.base import (
    CallbackRequest,
    CarrierOutcomeUnknown,
    CarrierSpec,
    CarrierThrottled,
    CarrierUnreachable,
    CheckFailed,
    InboundSms,
    OutboundSms,
    PermanentCarrierError,
    SendResult,
    SignatureError,
    StatusReport,
    TransientCarrierError,
)
from b24sms.adapters.config import get_settings, setting
from b24sms.domain import holds, prices
from b24sms.domain.models import CarrierConfig
from b24sms.domain.privacy import mask_carrier_text

CONTEXT_KEY = "b24_key"

# Every messageStatus AWS documents. SUCCESSFUL is "delivered" only when the event is final: some
# countries report SUCCESSFUL where others report DELIVERED. UNKNOWN is ignored (never backwards).
STATUS_MAP: dict[str, str | None] = {
    "PENDING": None,
    "QUEUED": None,
    "SUCCESSFUL": "sent",  # "delivered" when isFinal
    "DELIVERED": "delivered",
    "INVALID": "undelivered",
    "UNREACHABLE": "undelivered",
    "CARRIER_UNREACHABLE": "undelivered",
    "BLOCKED": "undelivered",
    "CARRIER_BLOCKED": "undelivered",
    "TTL_EXPIRED": "undelivered",
    "INVALID_MESSAGE": "failed",
    "SPAM": "failed",
    "PROTECT_BLOCKED": "failed",
    "UNKNOWN": None,
}

THROTTLED = frozenset({"ThrottlingException"})
TRANSIENT = frozenset(
    {
        "InternalServerException",
        "ServiceQuotaExceededException",  # spend or rate quota: raised by the account owner
        "AccessDeniedException",  # the role or the account: fixed by an operator, then retried
        "ResourceNotFoundException",  # configuration set or origination identity missing: same
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)


def map_status(status: str, is_final: bool) -> str | None:
    if status == "SUCCESSFUL" and is_final:
        return "delivered"
    return STATUS_MAP.get(status)


def parse_event(event: dict[str, Any]) -> StatusReport:
    """One delivery event (the JSON an SNS notification or EventBridge ``detail`` carries)."""
    status = str(event.get("messageStatus") or "").upper()
    message_id = str(event.get("messageId") or "")
    if not message_id or status not in STATUS_MAP:
        raise ValueError("AWS SMS event needs messageId and a known messageStatus")
    context = event.get("context") or {}
    is_final = str(event.get("isFinal", "")).lower() == "true"
    bitrix = map_status(status, is_final)
    failed = bitrix in ("undelivered", "failed")
    return StatusReport(
        carrier_message_id=message_id,
        carrier_status=status,
        bitrix_status=bitrix,
        message_key=str(context.get(CONTEXT_KEY, "")) if isinstance(context, dict) else "",
        error_code=f"AWS_{status}" if failed else "",
        error_message=str(event.get("messageStatusDescription") or "")[:500] if failed else "",
        price=(price := prices.total(event.get("totalMessagePrice"), event.get("totalCarrierFee"))),
        price_unit="USD" if price else "",  # AWS End User Messaging prices events in dollars
    )


@cache
def _client(region: str, endpoint_url: str, timeout: float) -> Any:
    import boto3  # cold start: only deployments on this carrier pay for the client
    from botocore.config import Config  # cold start: as boto3

    config = Config(retries={"total_max_attempts": 1}, connect_timeout=timeout, read_timeout=timeout)
    return boto3.client("pinpoint-sms-voice-v2", region_name=region or None, endpoint_url=endpoint_url or None, config=config)


class AwsSmsCarrier:
    name = "aws"

    def __init__(
        self,
        *,
        origination_identity: str,
        configuration_set: str,
        message_type: str = "TRANSACTIONAL",
        region: str = "",
        endpoint_url: str = "",
        timeout: float = 10.0,
    ) -> None:
        if not origination_identity:
            raise ValueError("AWS End User Messaging needs an origination identity (phone number, sender id or pool)")
        self.origination_identity = origination_identity
        self.configuration_set = configuration_set
        self.message_type = message_type
        self.region = region
        self.endpoint_url = endpoint_url
        self.timeout = timeout

    def send(self, sms: OutboundSms) -> SendResult:
        from botocore.exceptions import (  # cold start: as boto3
            ClientError,
            ConnectionClosedError,
            ConnectTimeoutError,
            EndpointConnectionError,
        )

        request: dict[str, Any] = {
            "DestinationPhoneNumber": sms.to,
            "OriginationIdentity": self.origination_identity,
            "MessageBody": sms.body,
            "MessageType": self.message_type,
            "Context": {CONTEXT_KEY: sms.key},
        }
        if self.configuration_set:
            request["ConfigurationSetName"] = self.configuration_set
        client = _client(self.region, self.endpoint_url, self.timeout)
        try:
            answer = client.send_text_message(**request)
        except (EndpointConnectionError, ConnectTimeoutError) as exc:  # never reached AWS
            raise CarrierUnreachable("AWS_UNREACHABLE", type(exc).__name__) from exc
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code") or "Unknown")
            reason = str(exc.response.get("Reason") or "")
            text = mask_carrier_text(str(error.get("Message") or code) + (f" ({reason})" if reason else ""))
            if code in THROTTLED:
                raise CarrierThrottled(f"AWS_{code}", text, 1.0) from exc
            if code in TRANSIENT or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500:
                spend_cap = reason if code == "ServiceQuotaExceededException" and "SPEND_LIMIT" in reason else ""
                raise TransientCarrierError(f"AWS_{code}" + (f"_{spend_cap}" if spend_cap else ""), text) from exc
            raise PermanentCarrierError(f"AWS_{code}" + (f"_{reason}" if reason else ""), text) from exc
        except ConnectionClosedError as exc:
            raise CarrierOutcomeUnknown("AWS_TIMEOUT", type(exc).__name__) from exc
        except Exception as exc:  # read timeouts and other mid-request failures: AWS may have it
            if type(exc).__name__ in ("ReadTimeoutError", "ResponseStreamingError"):
                raise CarrierOutcomeUnknown("AWS_TIMEOUT", type(exc).__name__) from exc
            raise
        return SendResult(str(answer["MessageId"]), "PENDING")

    def parse_status(self, request: CallbackRequest) -> list[StatusReport]:
        raise SignatureError("AWS End User Messaging reports deliveries through SNS, not this URL")

    def parse_inbound(self, request: CallbackRequest) -> InboundSms:
        raise SignatureError("AWS End User Messaging delivers inbound SMS through SNS, not this URL")


def parse_inbound_event(event: dict[str, Any]) -> InboundSms:
    """A customer's SMS to our number, as two-way SMS publishes it to SNS."""
    sender = str(event.get("originationNumber") or "")
    message_id = str(event.get("inboundMessageId") or "")
    if not sender or not message_id:
        raise ValueError("AWS inbound SMS needs originationNumber and inboundMessageId")
    return InboundSms(message_id, sender, str(event.get("destinationNumber") or ""), str(event.get("messageBody") or ""))


def build(config: CarrierConfig, creds: Mapping[str, str]) -> AwsSmsCarrier:
    """IAM authenticates: a portal picks its own origination identity, never other credentials."""
    env = setting
    return AwsSmsCarrier(
        origination_identity=config.sender or env("AWS_SMS_ORIGINATION_IDENTITY", ""),
        configuration_set=env("AWS_SMS_CONFIGURATION_SET", ""),
        message_type=env("AWS_SMS_MESSAGE_TYPE", "TRANSACTIONAL"),
        endpoint_url=env("AWS_SMS_ENDPOINT", ""),
        timeout=get_settings().http_timeout,
    )


def check(creds: Mapping[str, str], sender: str) -> None:
    """The page's **Check**: the origination identity (``sender``; none: the deployment's) exists in
    this account (describe it; nothing is sent)."""
    if not sender:
        return
    import boto3  # cold start: loaded when an admin checks an AWS origination identity

    client = boto3.client("pinpoint-sms-voice-v2")
    try:
        if sender.startswith("pool-") or ":pool/" in sender:
            client.describe_pools(PoolIds=[sender])
        elif sender.startswith("+") or sender.startswith("phone-") or ":phone-number/" in sender:
            client.describe_phone_numbers(PhoneNumberIds=[sender])
        else:
            client.describe_sender_ids(SenderIds=[{"SenderId": sender, "IsoCountryCode": "US"}])
    except Exception as exc:
        raise CheckFailed("aws_identity", "AWS") from exc


SPEC = CarrierSpec(
    name="aws",
    title={"en": "AWS End User Messaging SMS", "ru": "AWS End User Messaging SMS"},
    check=check,
    settings=("AWS_SMS_ORIGINATION_IDENTITY", "AWS_SMS_CONFIGURATION_SET", "AWS_SMS_MESSAGE_TYPE", "AWS_SMS_ENDPOINT"),
    build=build,
    own_credentials=False,
    default_sender="AWS_SMS_ORIGINATION_IDENTITY",
    price_from="report",  # each event's totalMessagePrice + totalCarrierFee (USD)
    opt_out_codes=frozenset({"AWS_ConflictException_DESTINATION_PHONE_NUMBER_OPTED_OUT"}),
    # The role may not send (or the account is not allowed to); the account's monthly spend limit reached.
    account_refusals={
        "AWS_AccessDeniedException": holds.CREDENTIALS,
        "AWS_ServiceQuotaExceededException_MONTHLY_SPEND_LIMIT_REACHED_FOR_TEXT": holds.BALANCE,
    },
    # the destination country not enabled or blocked, no identity of ours for it
    route_codes=frozenset(
        {
            "AWS_ValidationException_DESTINATION_COUNTRY_BLOCKED",
            "AWS_ValidationException_COUNTRY_NOT_ENABLED",
            "AWS_ValidationException_INVALID_IDENTITY_FOR_DESTINATION_COUNTRY",
            "AWS_ValidationException_COUNTRY_CODE_MISMATCH",
            "AWS_ConflictException_DESTINATION_COUNTRY_BLOCKED_BY_PROTECT_CONFIGURATION",
        }
    ),
    # delivery events come through SNS (the SmsEvents function), never to the HTTP status route
)
