"""Where a message stands in our own pipeline: its *dispatch state*. Not to be confused with the
Bitrix24 status the portal shows (queued, sent, delivered …: ``bitrix_statuses.py``): a message can be
``DispatchState.SENT`` (the carrier took it) while its Bitrix24 status is still ``sent`` or already
``delivered``."""

from __future__ import annotations

from enum import StrEnum


class DispatchState(StrEnum):
    ACCEPTED = "accepted"  # recorded by the handler, waiting in the outbound queue
    SENDING = "sending"  # a dispatcher holds it and is talking to the carrier
    SENT = "sent"  # the carrier accepted it
    REJECTED = "rejected"  # the carrier refused it, or we gave up: never to be sent
    UNKNOWN = "unknown"  # a dispatcher died mid-send: the carrier may have it; never sent again
