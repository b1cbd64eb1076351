"""events/ stays true to the code: the files are what local/event_files.py writes, and each names a route
or queue of template.yaml."""

from __future__ import annotations

import json

from local import event_files
from local.template import Template


def test_event_files_are_up_to_date():
    for name, event in event_files.build().items():
        on_disk = json.loads((event_files.EVENTS / name).read_text())
        assert on_disk == event, f"events/{name} is stale: run python -m local.event_files"


def test_every_http_event_matches_a_route_of_the_template():
    routes = {f"{r.method} {r.path}" for r in Template().routes()}
    http_events = [e for e in event_files.build().values() if "routeKey" in e]
    assert {e["routeKey"] for e in http_events} == routes
