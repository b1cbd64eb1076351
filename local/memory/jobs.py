"""An in-memory stand-in of ``store.jobs`` (a portal's jobs, ``usecases/portal_jobs.py``): the same
calls, kept in a dict, and a count of the requests each would have made."""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

from b24sms.adapters.store.jobs import Call, Job


class MemoryJobs:
    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, Job]] = defaultdict(dict)
        self.requests: dict[str, int] = defaultdict(int)  # operation -> count
        self.lock = threading.Lock()

    def enabled(self) -> bool:
        return True

    def add(self, member_id: str, job: Job) -> bool:
        with self.lock:
            self.requests["PutItem"] += 1
            if job.job_id in self.jobs[member_id]:
                return False
            self.jobs[member_id][job.job_id] = job
            return True

    def pending(self, member_id: str, limit: int) -> list[Job]:
        with self.lock:
            self.requests["Query"] += 1
            return [self.jobs[member_id][k] for k in sorted(self.jobs[member_id])][:limit]

    def progress(self, member_id: str, job_id: str, calls: list[Call], then: str, data: dict[str, Any]) -> None:
        with self.lock:
            self.requests["UpdateItem"] += 1
            old = self.jobs[member_id][job_id]
            self.jobs[member_id][job_id] = Job(job_id, calls, then, data, old.scope, old.attempts + 1, old.since)

    def finish(self, member_id: str, job_id: str) -> None:
        with self.lock:
            self.requests["DeleteItem"] += 1
            self.jobs[member_id].pop(job_id, None)
