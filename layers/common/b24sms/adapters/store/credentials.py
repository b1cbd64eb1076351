"""A portal's carrier credentials in Secrets Manager: one JSON secret per portal and sender, under
``<CARRIER_SECRETS_PREFIX><member_id>/``, a new name at each change; read through ``config.secret_json``
(the one reader, cached five minutes: a name is never reused, so a cached value is never stale)."""

from __future__ import annotations

import contextlib
import json
import secrets
from typing import Any

from b24sms.adapters import config


def secrets_prefix() -> str:
    """Where per-portal credentials live (the functions may read only secrets under it)."""
    return config.carrier_secrets_prefix()


def put_credentials(member_id: str, code: str, values: dict[str, str], replaces: str = "") -> str:
    """A new secret for a portal's carrier credentials (a new name each time, so that no warm function
    keeps using cached old ones); the secret it replaces is scheduled for deletion. Returns its name."""
    client = _secretsmanager()
    name = f"{secrets_prefix()}{member_id}/{code}-{secrets.token_hex(4)}"
    client.create_secret(Name=name, SecretString=json.dumps(values))
    if replaces and replaces.startswith(f"{secrets_prefix()}{member_id}/"):
        with contextlib.suppress(Exception):  # gone already: nothing to delete
            client.delete_secret(SecretId=replaces, RecoveryWindowInDays=7)
    return name


def read_credentials(name: str) -> dict[str, str]:
    """The stored credentials (the same reader the carriers use: ``config.secret_json``)."""
    return config.secret_json(name)


def _secretsmanager() -> Any:
    import boto3  # cold start: loaded when the page changes credentials

    return boto3.client("secretsmanager")
