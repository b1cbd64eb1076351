"""The Bitrix24 REST client and its errors."""

from b24sms.bitrix.client import BatchResult, BitrixClient, TokenStore
from b24sms.bitrix.errors import (
    BitrixError,
    OperationTimeLimit,
    PortalUnavailable,
    RateLimited,
    TokenExpired,
    TokenRefreshFailed,
)

__all__ = [
    "BatchResult",
    "BitrixClient",
    "BitrixError",
    "OperationTimeLimit",
    "PortalUnavailable",
    "RateLimited",
    "TokenExpired",
    "TokenRefreshFailed",
    "TokenStore",
]
