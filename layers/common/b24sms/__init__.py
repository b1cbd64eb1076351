"""The shared layer of the Bitrix24 SMS provider: ``api`` (the HTTP edge), ``usecases``, ``adapters``
and ``domain``, each importing only the ones after it (docs/architecture.md, checked by ``make lint``)."""
