"""A Bitrix24 portal (and its OAuth server) on 127.0.0.1, for the tests and the demo, in rooms:

- ``state``: the data — portals, tokens, senders, message timelines, Open Lines chats, recorded calls.
- ``rest``: the REST methods as a table (``METHODS``), ``batch``, and what every call goes through
  (token, leaky bucket, injected faults, scopes), with Bitrix24's error codes.
- ``imconnector``: the ``imconnector.*`` and ``imopenlines.*`` methods, in the same table style.
- ``oauth``: the OAuth token endpoint (rotating refresh tokens, ``oauth_delay``).
- ``events``: what the portal POSTs to the app (install page, ONAPPINSTALL/ONAPPUNINSTALL, HANDLER
  calls, OnImConnector* events, the connector's placement).
- ``server``: the loopback HTTP server routing to ``oauth`` and ``rest``.
- ``endpoint``: a portal's REST API on a socket of its own, closed and opened again by a test (a portal
  that refuses connections for a while).
- ``actor``: ``PortalEmulator``, the helpers tests drive (``add_portal``, ``install``, ``update_app``,
  ``send_sms``, ``refuse_connections``, …).
- ``params`` (request-side helpers shared by the REST rooms) and ``forms`` (the one import from the
  layer: PHP-style form encoding).

It speaks the wire formats of ../shared/reference/bitrix24.md.
"""

from local.emulator.actor import PortalEmulator
from local.emulator.params import RestError
from local.emulator.state import Call, EmulatedChat, EmulatedChatMessage, EmulatedPortal, OperatorMessage

__all__ = ["Call", "EmulatedChat", "EmulatedChatMessage", "EmulatedPortal", "OperatorMessage", "PortalEmulator", "RestError"]
