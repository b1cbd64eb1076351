"""The application's page, its use cases, one module per job:

- ``session``: who is looking (the posted AUTH_ID verified at the portal) and the session's portal;
  the token itself is ``usecases/page_session.py``;
- ``guard``: ``@admin_action``, the one admin guard every change goes through, and ``Admin.audit``,
  the one path to the audit log;
- one module per section of the page: ``carrier_settings``, ``senders``, ``trial_sms`` (the test SMS),
  ``log``, ``statistics``, ``opt_outs``, ``crm`` (the CRM timeline's scope and setting), ``audit`` (the
  list of settings changes);
- ``view``: what the page shows (``PageData``, each section's part); ``actions``: the page's calls by
  name (POST /bitrix/app/api/{action}); ``errors``: ``PageError``.

A new settings section is a new module here (its view, its ``@admin_action`` changes), a field of
``PageData`` filled in ``view.page_data``, its calls in ``actions.ACTIONS``, and its part of
functions/app/templates/page.html with its sentences in both catalogues (docs/architecture.md,
"Where a typical change goes"). Storage is ``adapters/store`` (one module per table or aggregate)."""

from b24sms.usecases.page import audit, csv_export, timezone
from b24sms.usecases.page.actions import ACTIONS, Action, action
from b24sms.usecases.page.carrier_settings import (
    CarrierForm,
    allowed_carriers,
    carrier_forms,
    carrier_texts,
    carrier_view,
    check,
    check_carrier,
    parse_carrier_form,
    save_carrier,
)
from b24sms.usecases.page.errors import FieldErrors, PageError
from b24sms.usecases.page.guard import Admin, admin_action
from b24sms.usecases.page.log import LogExport, LogRow, export_log, log_row, parse_back, parse_filters
from b24sms.usecases.page.opt_outs import add_opt_out, opt_out_ref, remove_opt_out
from b24sms.usecases.page.senders import add_sender, delete_sender, rename_sender, senders_view
from b24sms.usecases.page.session import open_page, portal_of
from b24sms.usecases.page.trial_sms import send_test, test_status
from b24sms.usecases.page.view import PageData, page_data

__all__ = [
    "ACTIONS",
    "Action",
    "Admin",
    "CarrierForm",
    "FieldErrors",
    "LogExport",
    "LogRow",
    "PageData",
    "PageError",
    "action",
    "add_opt_out",
    "add_sender",
    "admin_action",
    "allowed_carriers",
    "audit",
    "carrier_forms",
    "carrier_texts",
    "carrier_view",
    "check",
    "check_carrier",
    "csv_export",
    "delete_sender",
    "export_log",
    "log_row",
    "open_page",
    "opt_out_ref",
    "page_data",
    "parse_back",
    "parse_carrier_form",
    "parse_filters",
    "portal_of",
    "remove_opt_out",
    "rename_sender",
    "save_carrier",
    "send_test",
    "senders_view",
    "test_status",
    "timezone",
]
