"""AWS End User Messaging SMS delivery events, through the configuration set's SNS topic: map each
event to the Bitrix24 status and move the message forward, as the HTTP status route does for
carriers with webhooks. Trust comes from IAM: only this account's SMS service publishes here."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools import Logger

from b24sms import status_updates
from b24sms.carriers.aws_sms import parse_event

logger = Logger()


def apply(record: dict[str, Any]) -> str:
    try:
        event = json.loads(record["Sns"]["Message"])
        report = parse_event(event)
    except (KeyError, TypeError, ValueError) as exc:  # not a delivery event: retrying will not help
        logger.warning("ignored an SNS message that is not an SMS delivery event", extra={"error": str(exc)[:200]})
        return "invalid"
    return status_updates.apply_report("aws", report)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # A storage error raises: Lambda retries the whole (idempotent) notification.
    return {"result": [apply(record) for record in event.get("Records", [])]}
