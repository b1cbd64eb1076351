"""The page's own records in memory: the audit log (ChatsTable's ``audit#<member_id>`` items), newest
first, as ``b24sms.adapters.store.audit`` keeps them."""

from __future__ import annotations

from typing import Any

from local.memory.store import Meter


class SimAudit:
    def __init__(self, meter: Meter) -> None:
        self.meter = meter
        self.entries: dict[str, list[dict[str, Any]]] = {}  # member_id -> entries, oldest first

    def record_audit(self, member_id: str, user: str, action: str, changes: dict[str, str], name: str = "") -> None:
        self.meter.write("chats", member_id, op="PutItem")
        entry: dict[str, Any] = {"at": self.meter.clock.now_int(), "user": user, "action": action, "changes": dict(changes)}
        if name:
            entry["name"] = name
        self.entries.setdefault(member_id, []).append(entry)

    def audit_log(self, member_id: str, limit: int = 20) -> list[dict[str, Any]]:
        self.meter.read("chats", member_id, op="Query")
        return list(reversed(self.entries.get(member_id, [])))[:limit]
