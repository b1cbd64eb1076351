"""What the app does, one module per use case, on top of the adapters and the domain. Handlers in
``functions/`` call these; these raise domain errors, and ``b24sms.api`` maps them to HTTP."""
