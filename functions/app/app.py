"""POST /bitrix/app: the application's own page in the portal (the portal opens it with AUTH_ID), and
POST /bitrix/app/api/{action}: the calls the page makes, each carrying the page's session token
(header ``X-B24sms-Session``). Parse, authenticate, one use case, answer: what the page looks like and
says (catalogues in i18n/<lang>.json, templates/, security headers) is ``b24sms.api.page_view``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from b24sms import api
from b24sms.api import page_view
from b24sms.domain.errors import DomainError, Invalid
from b24sms.usecases import page, page_session

logger = Logger()
VIEW = page_view.PageView(Path(__file__).resolve().parent)
SESSION_HEADER = "x-b24sms-session"


def open_page(event: APIGatewayProxyEventV2) -> api.HtmlPage:
    query = event.query_string_parameters or {}
    lang = str(query.get("LANG") or "en")
    try:
        form = api.form_body(event.raw_event)
        token = str(form.get("session") or "")
        if token:
            session = page_session.verify(token)
        else:
            session, token = page.open_page(form, query)
        lang = session.lang  # what follows is refused in the session's language
        filters, cursor = page.parse_filters(form, page.timezone.zone(session.tz)[0])
        data = page.page_data(session, filters, cursor, page.parse_back(form), page.audit.parse_cursor(form))
    except DomainError as exc:  # a person is looking: say it in HTML, in their language
        return VIEW.refusal(lang, exc)
    logger.info("page opened", extra={"member_id": session.member_id, "admin": session.admin})
    return VIEW.render("page.html", session.lang, tz=session.tz, data=data, token=token, admin=session.admin)


def call(event: APIGatewayProxyEventV2) -> dict[str, Any] | api.XmlResponse:
    action = page.action(str((event.path_parameters or {}).get("action") or ""))
    session = page_session.verify(api.headers_of(event.raw_event).get(SESSION_HEADER, ""))
    form = api.form_body(event.raw_event)
    logger.append_keys(member_id=session.member_id)
    try:
        result = action(session, form)
    except page.PageError as exc:  # the sentence in the user's language
        raise Invalid(VIEW.explain(session.lang, exc), exc.code) from exc
    except DomainError as exc:  # the same for the other refusals that have a sentence (same kind, same status)
        exc.description = VIEW.explain(session.lang, exc)
        raise
    if isinstance(result, page.LogExport):
        return VIEW.csv(session.lang, result, session.tz)
    return VIEW.say(session.lang, result)


def route(event: APIGatewayProxyEventV2) -> dict[str, Any] | api.HtmlPage | api.XmlResponse:
    if (event.path_parameters or {}).get("action") is not None:
        return call(event)
    if event.request_context.http.method == "GET":  # opened outside the portal: say how to open it
        return VIEW.message(str((event.query_string_parameters or {}).get("LANG") or "en"), "error.no_auth")
    return open_page(event)


lambda_handler = page_view.with_headers(api.lambda_handler(route, logger))
