"""`make invoke EVENT=events/<file>` picks the function from FUNCTION_OF: it must be the one the
template routes that event to."""

from __future__ import annotations

from local import event_files
from local.template import Template


def test_each_file_names_the_function_the_template_gives_its_route_or_queue():
    t = Template()
    by_route = {f"{r.method} {r.path}": r.function for r in t.routes()}
    by_queue = {f"{trigger.queue}": trigger.function for trigger in t.queue_triggers()}
    built = event_files.build()
    assert sorted(built) == sorted(event_files.FUNCTION_OF)
    for name, event in built.items():
        if "routeKey" in event:
            assert event_files.FUNCTION_OF[name] == by_route[event["routeKey"]], name
        elif event.get("Records") and event["Records"][0].get("eventSource") == "aws:sqs":
            queue = event["Records"][0]["eventSourceARN"].rsplit("-", 1)[-1]
            assert event_files.FUNCTION_OF[name] == by_queue[queue], name
        else:  # scheduled, SNS and by-hand events: a function of the template
            assert event_files.FUNCTION_OF[name] in {f.logical_id for f in t.functions()}, name
