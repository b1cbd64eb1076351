"""The Bitrix24 portal emulator, by its old address: the code lives in the package ``local.emulator``
(one module per room: state, rest, imconnector, oauth, events, server, actor). This facade keeps
``from local.portal_emulator import EmulatedPortal, PortalEmulator`` working."""

from local.emulator.actor import PortalEmulator
from local.emulator.imconnector import CONNECTOR_ID
from local.emulator.params import RestError
from local.emulator.rest import INSUFFICIENT_SCOPE, METHOD_SCOPES, SENDER_CODE, STATUSES
from local.emulator.state import Call, EmulatedChat, EmulatedChatMessage, EmulatedPortal, OperatorMessage

__all__ = [
    "CONNECTOR_ID",
    "INSUFFICIENT_SCOPE",
    "METHOD_SCOPES",
    "SENDER_CODE",
    "STATUSES",
    "Call",
    "EmulatedChat",
    "EmulatedChatMessage",
    "EmulatedPortal",
    "OperatorMessage",
    "PortalEmulator",
    "RestError",
]
