"""What talks to the outside: Bitrix24 (``bitrix``), carriers (``carriers``), DynamoDB (``store``, the
only code that does), SQS (``queues``, through ``aws``), settings and secrets (``config``), metrics and
tracing (``telemetry``). Adapters import the domain, never the use cases."""
