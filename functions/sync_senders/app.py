"""The sender sync: queue every installed portal (or the ``member_ids`` given) for the sync of its
senders, event bindings and Open Lines connector with this deployment (run after a URL or name change,
and once after upgrading to a version that binds a new event, e.g. ONAPPUPDATE). It makes no REST
call: SyncPortalFunction syncs each portal from the sync queue (``usecases/sync.py``)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from b24sms.adapters import telemetry
from b24sms.usecases import sync

logger = Logger()


@logger.inject_lambda_context(clear_state=True)
@telemetry.traced
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return sync.start(event).as_dict()
