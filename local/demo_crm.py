"""`make demo`'s CRM part (issue #20 items 1 and 2): a customer replies STOP, and an SMS sent from a
contact's card ends undelivered; print what the contact's timeline then shows."""

from __future__ import annotations

import secrets
import time

import requests

from b24sms.adapters.carriers.sandbox import inbound_form
from local.emulator import EmulatedPortal, PortalEmulator
from local.stack import LOCAL_DEFAULTS, LocalStack

CUSTOMER = "+15550100013"  # the sandbox ends an SMS to ...0013 undelivered
OUR_NUMBER = "+15005550006"


def show(emulator: PortalEmulator, stack: LocalStack, portal: EmulatedPortal, timeout: float = 30.0) -> bool:
    """Returns whether the contact's timeline shows the failure and the opt-out."""
    contact = portal.add_crm_item("contact", "+1 555 010 0013")
    message_id, _ = emulator.send_sms(portal, CUSTOMER, "Your table is booked for 8 pm", bindings=[contact])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not portal.crm_timeline(contact):
        time.sleep(0.1)
    body, headers = inbound_form(LOCAL_DEFAULTS["SANDBOX_SECRET"], secrets.token_hex(8), CUSTOMER, OUR_NUMBER, "STOP")
    answer = requests.post(f"{stack.base_url}/carriers/sandbox/inbound", data=body.encode(), headers=headers, timeout=10)
    print(f"\ncustomer {CUSTOMER} replies STOP: inbound webhook answered {answer.status_code} {answer.text}")
    while time.monotonic() < deadline and len(portal.crm_timeline(contact)) < 2:
        time.sleep(0.1)
    print(f"the CRM contact's timeline (contact {contact[1]}, phone +1 555 010 0013; SMS {message_id}):")
    entries = portal.crm_timeline(contact)
    for entry in entries:
        print(f"  [{entry['title']}] {entry['text']}")
    return len(entries) == 2
