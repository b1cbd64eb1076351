"""In-memory stand-ins for a fleet simulation (``make bench-fleet``): a simulated clock and event loop,
SQS queues, the DynamoDB tables the use cases write, and Bitrix24 portals with their own buckets. The
REAL use cases (accept, dispatch, status_updates, push) run on them; nothing here models their logic."""

import sys
from pathlib import Path

_LAYER = str(Path(__file__).resolve().parents[2] / "layers" / "common")  # b24sms, as local/ finds it
if _LAYER not in sys.path:
    sys.path.insert(0, _LAYER)
