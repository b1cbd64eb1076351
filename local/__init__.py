"""Running the bundle on one machine: the local stack, the Bitrix24 portal emulator, the demo."""

import os
import sys
from pathlib import Path

# What the template sets for every function; set before any layer module creates its logger.
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "b24sms")

# The shared layer is what the functions import; locally it is a plain folder on the path.
_LAYER = str(Path(__file__).resolve().parent.parent / "layers" / "common")
if _LAYER not in sys.path:
    sys.path.insert(0, _LAYER)
