"""The only code that talks to DynamoDB: one module per record kind.

- ``portals``: PortalsTable (installed portals, their tokens and the refresh lock, Open Lines, carrier);
- ``messages``: MessagesTable (messages, their dispatch claim, statuses, pushes, pending shards);
- ``chats``: ChatsTable (two-way SMS: recipients, opt-outs, inbound de-duplication, number routes);
- ``holds``: PortalsTable's carrier account holds (``domain.holds``);
- ``limits``: LimitsTable (token buckets shared by every Lambda);
- ``erase``: what an uninstall with CLEAN erases besides the messages (ChatsTable items, credentials).

``now`` is the store's clock (unix seconds), which use cases stamp records with; ``reset_client``
forgets the DynamoDB resource (the local stack points it at moto's server).
"""

from b24sms.adapters.store import chats, erase, holds, limits, messages, portals
from b24sms.adapters.store._table import now, reset_client

__all__ = ["chats", "erase", "holds", "limits", "messages", "now", "portals", "reset_client"]
