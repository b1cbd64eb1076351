"""The domain: rules and types with no I/O. Imports nothing else of ``b24sms`` (import-linter checks it)."""
