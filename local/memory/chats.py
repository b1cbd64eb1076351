"""ChatsTable's opt-outs and recipients in memory, as ``b24sms.adapters.store.chats`` keeps them."""

from __future__ import annotations

from typing import Any

from local.memory.meter import Meter


class SimChats:
    def __init__(self, meter: Meter) -> None:
        self.meter = meter
        self.opted_out: dict[tuple[str, str], dict[str, Any]] = {}  # (member_id, phone) -> at, source

    def is_opted_out(self, member_id: str, phone: str) -> bool:
        self.meter.read("chats", member_id)
        return (member_id, phone) in self.opted_out

    def opt_out(self, member_id: str, phone: str, source: str = "") -> bool:
        """False when it already was (conditional: the first opt-out is kept)."""
        self.meter.write("chats", member_id)
        if (member_id, phone) in self.opted_out:
            return False
        self.opted_out[(member_id, phone)] = {"at": self.meter.clock.now_int(), "source": source}
        return True

    def opt_in(self, member_id: str, phone: str) -> bool:
        self.meter.write("chats", member_id)
        return self.opted_out.pop((member_id, phone), None) is not None

    def opt_outs(self, member_id: str, limit: int = 200) -> list[dict[str, Any]]:
        self.meter.read("chats", member_id)
        return [{"phone": p, **entry} for (m, p), entry in self.opted_out.items() if m == member_id][:limit]

    def remember_recipient(self, member_id: str, phone: str) -> None:
        self.meter.write("chats", member_id)
