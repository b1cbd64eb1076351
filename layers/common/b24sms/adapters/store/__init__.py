"""The only code that talks to DynamoDB and Secrets Manager: one module per table or aggregate.

- ``portals``: PortalsTable (installed portals, their tokens and the refresh lock, Open Lines, carrier,
  the senders added on the page);
- ``messages``: MessagesTable, the messages themselves (recorded, claimed, sent, statuses);
  ``pending``: its ``by-pending`` index (messages waiting to be sent); ``pushes``: its
  ``by-push-pending`` index (statuses the portal has not been given); ``message_log``: the page's log
  (``by-portal-log``, then a batch read of its messages); ``counters``: the per-portal day counters;
- ``chats``: ChatsTable (two-way SMS: recipients, opt-outs, inbound de-duplication, number routes);
  ``audit``: its ``audit#`` items, the page's log of settings changes;
- ``credentials``: a portal's carrier credentials (Secrets Manager);
- ``holds``, ``alerts``: PortalsTable's carrier account holds (``domain.holds``) and open admin alerts;
- ``jobs``: ChatsTable (a portal's REST calls other than status pushes, until they are made);
- ``limits``: LimitsTable (token buckets shared by every Lambda);
- ``recon``: MessagesTable's ``by-reconcile`` index (messages the reconciler asks the carrier about);
- ``quiet``: messages held by quiet hours (MessagesTable's ``by-quiet``) and a portal's quiet hours;
- ``erase``: what an uninstall with CLEAN erases besides the messages (ChatsTable items, credentials).

``now`` is the store's clock (unix seconds), which use cases stamp records with; ``reset_client``
forgets the DynamoDB resource (the local stack points it at moto's server).
"""

from b24sms.adapters.store import (
    alerts,
    audit,
    chats,
    counters,
    credentials,
    erase,
    holds,
    jobs,
    limits,
    message_log,
    messages,
    pending,
    portals,
    pushes,
    quiet,
    recon,
)
from b24sms.adapters.store._table import now, reset_client

__all__ = [
    "alerts",
    "audit",
    "chats",
    "counters",
    "credentials",
    "erase",
    "holds",
    "jobs",
    "limits",
    "message_log",
    "messages",
    "now",
    "pending",
    "portals",
    "pushes",
    "quiet",
    "recon",
    "reset_client",
]
