"""The functions that name a portal's carrier-credential secrets by their prefix (the page writes them,
an uninstall with CLEAN deletes them) read ``CARRIER_SECRETS_PREFIX``: in AWS each function has only its
own environment (locally every function shares one), so a function without it would look under the
local default and, on CLEAN, silently delete nothing."""

from __future__ import annotations

from local.template import Template


def test_each_function_that_names_credential_secrets_gets_the_prefix_its_grant_covers():
    resources = Template().resources
    for name in ("AppFunction", "EventsFunction"):
        props = resources[name]["Properties"]
        prefix = props["Environment"]["Variables"].get("CARRIER_SECRETS_PREFIX")
        assert prefix, f"{name} lacks CARRIER_SECRETS_PREFIX"
        grants = [s for p in props["Policies"] for s in p["Statement"] if s.get("Sid") == "PortalCarrierCredentials"]
        assert [g["Resource"]["Fn::Sub"][1]["Prefix"] for g in grants] == [prefix], name
