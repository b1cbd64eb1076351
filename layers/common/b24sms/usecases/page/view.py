"""What the page shows, section by section: each section's module gives its part (``PageData``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from b24sms.adapters.store.message_log import LogFilter
from b24sms.domain import stats
from b24sms.domain.models import Portal
from b24sms.usecases.page.audit import changes_page
from b24sms.usecases.page.carrier_settings import allowed_carriers, carrier_forms, carrier_view
from b24sms.usecases.page.crm import crm_view
from b24sms.usecases.page.log import LogRow, log_page
from b24sms.usecases.page.opt_outs import opt_outs_view
from b24sms.usecases.page.quiet_hours import quiet_view
from b24sms.usecases.page.reconciliation import reconcile_view
from b24sms.usecases.page.routing_settings import routing_view
from b24sms.usecases.page.senders import senders_view
from b24sms.usecases.page.session import portal_of
from b24sms.usecases.page.statistics import summary
from b24sms.usecases.page_session import Session


@dataclass
class PageData:
    session: Session
    portal: Portal
    carrier: dict[str, str]
    senders: list[dict[str, str]]
    log: list[LogRow]
    cursor: str
    filters: LogFilter
    summary: stats.Summary
    opt_outs: list[dict[str, Any]]
    openlines: list[str]
    audit: list[dict[str, Any]]
    carriers: tuple[str, ...] = field(default_factory=tuple)
    forms: list[dict[str, Any]] = field(default_factory=list)  # each carrier's fields (carrier_forms)
    page_cursor: str = ""  # this page of the log ("" the newest)
    back: list[str] = field(default_factory=list)  # the newer pages' cursors ("-" the newest): the pager's "Newer"
    audit_cursor: str = ""  # the next, older page of the settings changes ("" when there is none)
    audit_page: str = ""  # this page of the settings changes ("" the newest)
    crm: dict[str, Any] = field(default_factory=dict)  # the CRM timeline: scope granted, its setting (page/crm.py)
    routing: dict[str, str] = field(default_factory=lambda: dict.fromkeys(("routes", "fallback", "own"), ""))  # routing_view
    reconcile: dict[str, Any] = field(default_factory=dict)  # reconciliation (reconcile_view)
    quiet: dict[str, Any] = field(default_factory=dict)  # quiet hours (quiet_view)


def page_data(
    session: Session, filters: LogFilter, cursor: str = "", back: list[str] | None = None, audit_page: str = ""
) -> PageData:
    portal = portal_of(session)
    log, next_cursor = log_page(portal.member_id, filters, cursor)
    # A user who is not an administrator sees the log, the statistics and the opt-outs (README): the
    # settings and their changes are not even read for them.
    changes, audit_cursor = changes_page(portal.member_id, audit_page) if session.admin else ([], "")
    return PageData(
        session=session,
        portal=portal,
        carrier=carrier_view(portal.carrier, portal.member_id) if session.admin else carrier_view(None),
        senders=senders_view(portal),
        log=log,
        cursor=next_cursor,
        filters=filters,
        summary=summary(portal.member_id),
        opt_outs=opt_outs_view(session, portal.member_id),
        openlines=sorted(portal.openlines),
        audit=changes,
        carriers=allowed_carriers(),
        forms=carrier_forms(allowed_carriers()),
        page_cursor=cursor,
        back=list(back or []) if cursor else [],
        audit_cursor=audit_cursor,
        audit_page=audit_page,
        crm=crm_view(portal),
        routing=routing_view(portal),
        reconcile=reconcile_view(portal),
        quiet=quiet_view(portal),
    )
