"""CloudWatch metrics (Powertools Metrics, EMF): counts the alarms in template.yaml watch.

``count`` adds nothing when metrics are disabled (the local stack disables them): Powertools keeps
disabled metrics in memory and still prints them when 100 pile up.
"""

from __future__ import annotations

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

metrics = Metrics(namespace="b24sms")


def count(name: str, value: float = 1) -> None:
    if value and not is_metrics_disabled():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
