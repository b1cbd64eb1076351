"""The page's routing settings: which carrier sends to which destination (``+7=smsru, *=twilio``) and
the fallback carrier (docs/carriers.md, "Failover and routing by country"). Only the carriers the page
offers; a routed carrier sends with the portal's own account of it (kept from ``make portal-carrier
--route-account``, or its main carrier's), else the deployment's."""

from __future__ import annotations

from typing import Any

from b24sms.domain import routing
from b24sms.domain.models import CarrierConfig, Portal
from b24sms.usecases import portal_carriers
from b24sms.usecases.page.carrier_settings import allowed_carriers
from b24sms.usecases.page.errors import PageError
from b24sms.usecases.page.guard import Admin, admin_action

MAX_TEXT = 400


def routing_view(portal: Portal) -> dict[str, str]:
    """The portal's table as the page shows it ("" fields: none; ``own``: "1" when it has its own)."""
    table = routing.Routing.from_item(portal.routing)
    routes = ", ".join(f"{k}={v}" for k, v in sorted(table.routes.items()))
    return {"routes": routes, "fallback": table.fallback, "own": "1" if portal.routing else ""}


def parse_routing_form(form: dict[str, Any]) -> dict[str, str]:
    """The table as entries, from the form's ``routes`` text and ``fallback`` carrier ("" none)."""
    routes, fallback = form.get("routes") or "", form.get("fallback") or ""
    if not isinstance(routes, str) or not isinstance(fallback, str) or len(routes) > MAX_TEXT:
        raise PageError("routing.bad_entry", entry=str(routes)[:40])
    try:
        entries = routing.parse(routes)
    except routing.InvalidRouting as exc:
        raise PageError("routing.bad_entry", entry=exc.entry or str(exc)[:80]) from exc  # the user's language
    if fallback.strip():
        entries[routing.FALLBACK] = fallback.strip()
    offered = allowed_carriers()
    for key, carrier in entries.items():
        if carrier not in offered:
            raise PageError("routing.unknown_carrier", carrier=carrier[:40], entry=key[:20])
    return entries


@admin_action
def save_routing(admin: Admin, entries: dict[str, str]) -> routing.Routing:
    """Check and store the table (empty: the deployment's), keeping the portal's own accounts of the
    carriers it still names; a line in the audit log."""
    portal = admin.portal
    named = set(entries.values())
    kept = [CarrierConfig.from_item({**v, "carrier": k}) for k, v in portal.carrier_accounts.items() if k in named]
    try:
        table = portal_carriers.configure_routing(portal.member_id, entries, kept, check_secret=False)
    except portal_carriers.InvalidCarrierConfig as exc:
        raise PageError("routing.bad_entry", entry=str(exc)[:80]) from exc
    view = {"routes": ", ".join(f"{k}={v}" for k, v in sorted(table.routes.items())), "fallback": table.fallback}
    admin.audit("routing changed", view)
    return table
