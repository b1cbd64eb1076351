"""In-memory stand-ins of what the use cases talk to: a simulated clock and event loop (``clock``), SQS
queues (``sqs``), the DynamoDB tables the use cases write (``store``), Bitrix24 portals with their own
buckets (``portal``), and ``world``, which points the REAL use cases (accept, dispatch, status_updates,
push) at them. Used by the 10,000-portal simulation (bench/fleet_sim.py, ``make bench-fleet``) and the
use cases' unit tests (tests/unit); nothing here models the use cases' logic."""
