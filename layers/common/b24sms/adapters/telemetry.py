"""CloudWatch metrics (Powertools Metrics, EMF): counts the alarms in template.yaml watch; and the
optional X-Ray tracing of a handler (``traced``), switched by the template's ``Tracing`` parameter.

``count`` adds nothing when metrics are disabled (the local stack disables them): Powertools keeps
disabled metrics in memory and still prints them when 100 pile up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from b24sms.adapters import config

metrics = Metrics(namespace="b24sms")


def count(name: str, value: float = 1) -> None:
    if value and not is_metrics_disabled():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


Handler = TypeVar("Handler", bound=Callable[..., Any])


def tracing_enabled() -> bool:
    """X-Ray tracing is on only when the template's ``Tracing`` parameter turned it on (it sets
    ``POWERTOOLS_TRACE_DISABLED`` to ``false``); off everywhere else, the local stack included."""
    return config.tracing_enabled()


def traced(handler: Handler) -> Handler:
    """The Lambda handler, traced by Powertools' Tracer (X-Ray) when tracing is on; unchanged when off,
    so a deployment without tracing never imports the X-Ray SDK."""
    if not tracing_enabled():
        return handler
    from aws_lambda_powertools import Tracer  # cold start: the X-Ray SDK, paid only with tracing on

    return cast(Handler, Tracer().capture_lambda_handler(handler))
