"""AWS End User Messaging SMS through SNS: delivery events (the configuration set's destination) move
the message's status forward, as the HTTP status route does for carriers with webhooks; inbound SMS
(two-way SMS on the number, same topic) go into the customer's Open Lines chat; one no portal takes is
``unrouted`` (logged and counted, not retried). Trust comes from IAM:
only this account's SMS service publishes here."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from b24sms.adapters import telemetry
from b24sms.adapters.carriers.aws_sms import SPEC, parse_event, parse_inbound_event
from b24sms.domain.errors import DomainError
from b24sms.domain.formdata import decode_json
from b24sms.usecases import inbound, status_updates

logger = Logger()


def apply(record: dict[str, Any]) -> str:
    try:
        event = decode_json(str(record["Sns"]["Message"]))  # FormError is a ValueError
        if isinstance(event, dict) and "inboundMessageId" in event:
            return inbound.receive_inbound(SPEC.name, parse_inbound_event(event))
        report = parse_event(event)
    except (KeyError, TypeError, ValueError) as exc:  # not an SMS event: retrying will not help
        logger.warning("ignored an SNS message that is not an SMS event", extra={"error": str(exc)[:200]})
        return "invalid"
    except DomainError as exc:  # an inbound SMS from an impossible number: retrying will not help either
        logger.warning("inbound SMS refused", extra={"error": exc.code, "detail": exc.description})
        return exc.code
    return status_updates.apply_report(SPEC.name, report)


@logger.inject_lambda_context(clear_state=True)
@telemetry.traced
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # A storage error raises: Lambda retries the whole (idempotent) notification.
    return {"result": [apply(record) for record in event.get("Records", [])]}
