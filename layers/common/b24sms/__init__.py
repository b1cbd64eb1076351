"""Shared domain code of the Bitrix24 SMS provider (the Lambda layer)."""
