"""events/ stays true to the code: the files are what local/events.py writes, and each names a route
or queue of template.yaml."""

from __future__ import annotations

import json

from local import events
from local.template import Template


def test_event_files_are_up_to_date():
    for name, event in events.build().items():
        on_disk = json.loads((events.EVENTS / name).read_text())
        assert on_disk == event, f"events/{name} is stale: run python -m local.events"


def test_every_http_event_matches_a_route_of_the_template():
    routes = {f"{r.method} {r.path}" for r in Template().routes()}
    http_events = [e for e in events.build().values() if "routeKey" in e]
    assert {e["routeKey"] for e in http_events} == routes
