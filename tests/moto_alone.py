"""moto in this process for one test, leaving the session's local stack alone.

The local stack (tests/conftest.py) serves moto from this process (``MotoThread``), so its tables and
queues live in moto's backends here. ``mock_aws()`` resets every backend when it starts and when it
ends: a unit test using it wiped the stack's queues and tables, every test that used the stack after it
failed (pytest tests/integration/test_push.py tests/unit/test_bench.py tests/integration/test_send.py:
12 errors), and the stack's pollers printed QueueDoesNotExist for the rest of the session.
``moto_alone`` starts the mock without a reset, in a region the stack never uses, and resets only
that region when it ends."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

from local.template import REGION as STACK_REGION

REGION = "eu-north-1"
assert REGION != STACK_REGION


@contextmanager
def moto_alone() -> Iterator[None]:
    """``mock_aws()`` for the block, in ``REGION`` (``AWS_DEFAULT_REGION`` is set to it, and the local
    stack's ``AWS_ENDPOINT_URL`` is unset meanwhile)."""
    from moto import mock_aws
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends
    from moto.sqs.models import sqs_backends

    aws = mock_aws()
    with mock.patch.dict(os.environ, {"AWS_DEFAULT_REGION": REGION}):
        os.environ.pop("AWS_ENDPOINT_URL", None)
        aws.start(reset=False)
        try:
            yield
        finally:
            aws.stop(remove_data=False)
            for backends in (dynamodb_backends, sqs_backends):  # what the tests that use it create
                backends[DEFAULT_ACCOUNT_ID][REGION].reset()
