"""What the in-memory tables would cost in DynamoDB: request units per table and operation (a failed
conditional write still costs its write), index writes, and the writes and reads landing on each
portal's partition per second (the partition key is ``member_id``)."""

from __future__ import annotations

from collections import Counter, defaultdict

from local.memory.clock import SimClock


class Meter:
    """Request units and requests by table, and the hottest second of a portal's partition of the
    messages table (its own writes and consistent reads; index entries are on the indexes' partitions)."""

    def __init__(self, clock: SimClock, latency: float) -> None:
        self.clock, self.latency = clock, latency
        self.wru: defaultdict[str, float] = defaultdict(float)
        self.rru: defaultdict[str, float] = defaultdict(float)
        self.requests: Counter[str] = Counter()
        self._second: dict[str, tuple[int, float, float]] = {}  # portal -> (second, WRU, RRU) in it
        self.partition_writes = 0.0  # write units on the portals' partitions of the messages table
        self.hottest_wru: tuple[float, str, int] = (0.0, "", 0)  # (WRU in one second, portal, second)
        self.hottest_rru: tuple[float, str, int] = (0.0, "", 0)

    def _heat(self, member_id: str, wru: float, rru: float) -> None:
        second = int(self.clock.monotonic())
        at, w, r = self._second.get(member_id, (second, 0.0, 0.0))
        if at != second:
            w, r = 0.0, 0.0
        w, r = w + wru, r + rru
        self._second[member_id] = (second, w, r)
        if w > self.hottest_wru[0]:
            self.hottest_wru = (w, member_id, second)
        if r > self.hottest_rru[0]:
            self.hottest_rru = (r, member_id, second)

    def write(self, table: str, member_id: str, op: str = "UpdateItem", index_writes: int = 0) -> None:
        self.clock.sleep(self.latency)
        self.requests[f"{table}.{op}"] += 1
        units = 1 + index_writes  # each index whose entry is added, changed or removed costs a write
        self.wru[table] += units
        if table == "messages":  # the table's partition key is member_id; index entries land on the indexes'
            self.partition_writes += 1
            self._heat(member_id, 1.0, 0.0)

    def read(self, table: str, member_id: str, op: str = "GetItem", units: float = 1.0) -> None:
        self.clock.sleep(self.latency)
        self.requests[f"{table}.{op}"] += 1
        self.rru[table] += units
        if table == "messages" and op != "Query":  # an index query reads the index's partitions
            self._heat(member_id, 0.0, units)
