"""The demo portal the files in events/ are written for: fixed ids, so the events can name them."""

from __future__ import annotations

DEMO_MEMBER_ID = "d3m0d3m0d3m0d3m0d3m0d3m0d3m0d3m0"
DEMO_APPLICATION_TOKEN = "51856fefc120afa4b628cc82d3935cce"
DEMO_HANDLER_SECRET = "demo-handler-secret-0123456789abcdefghijklmnop"
DEMO_ACCESS_TOKEN = "demo-access-token"
DEMO_REFRESH_TOKEN = "demo-refresh-token"
DEMO_MESSAGE_ID = "6f1e7c2b9a4d4e0f8b3c5a7d9e1f2a3b"
DEMO_CARRIER_MESSAGE_ID = "SBXdemo0000000000000000000000001"
DEMO_TWILIO_ACCOUNT_SID = "AC" + "d3" * 16
DEMO_TWILIO_AUTH_TOKEN = "demo-twilio-auth-token-0000000000"
DEMO_TWILIO_MESSAGE_SID = "SM" + "5a" * 16
DEMO_VONAGE_API_KEY = "d3m0k3y1"
DEMO_VONAGE_API_SECRET = "demo-vonage-api-secret"
DEMO_VONAGE_SIGNATURE_SECRET = "demo-vonage-signature-secret-000"
DEMO_VONAGE_PART_ID = "0B00000127FDBC63"
DEMO_AWS_MESSAGE_ID = "a3c4e5f6-0000-4000-8000-d3m0d3m0d3m0"
DEMO_OUR_NUMBER = "+15005550006"  # the number the demo portal sends from: inbound SMS to it route there
DEMO_OPEN_LINE = "1"  # the Open Line the demo portal connected our SMS channel to
