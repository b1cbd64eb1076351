"""The one way a change reaches the portal's settings: ``@admin_action``. It refuses anyone but the
portal's administrators (``Session.require_admin``), reads the session's portal once (``portal_of``),
and hands the change an ``Admin``, whose ``audit`` is the one path to the audit log (who changed what,
when: never a secret, callers pass masked values)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Concatenate, ParamSpec, TypeVar

from b24sms.adapters import store
from b24sms.domain.models import Portal
from b24sms.usecases.page.session import portal_of
from b24sms.usecases.page_session import Session

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Admin:
    """An administrator of ``portal`` making a change on the page."""

    session: Session
    portal: Portal

    def audit(self, action: str, changes: dict[str, str]) -> None:
        store.audit.record_audit(self.portal.member_id, self.session.user_id, action, changes, self.session.name)


def admin_action(change: Callable[Concatenate[Admin, P], R]) -> Callable[Concatenate[Session, P], R]:
    """A page action that changes settings: called with the session, run with an ``Admin``."""

    @functools.wraps(change)
    def action(session: Session, /, *args: P.args, **kwargs: P.kwargs) -> R:
        session.require_admin()
        return change(Admin(session, portal_of(session)), *args, **kwargs)

    return action
