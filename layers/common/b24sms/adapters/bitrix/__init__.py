"""The Bitrix24 REST client (``b24sms.bitrix.client``) and its errors.

Only the errors are imported here: a function that merely handles Bitrix24 errors (the HANDLER) does
not pay for importing ``requests`` at cold start.
"""

from b24sms.adapters.bitrix.errors import (
    BitrixError,
    OperationTimeLimit,
    PortalUnavailable,
    RateLimited,
    TokenExpired,
    TokenRefreshFailed,
)

__all__ = [
    "BitrixError",
    "OperationTimeLimit",
    "PortalUnavailable",
    "RateLimited",
    "TokenExpired",
    "TokenRefreshFailed",
]
