"""The page's refusal of bad input, in the words of its catalogues."""

from __future__ import annotations

from b24sms.domain.errors import Invalid


class PageError(Invalid):
    """Bad input on the page: ``key`` names the sentence in the page's catalogues."""

    def __init__(self, key: str, **params: str) -> None:
        super().__init__(key, key.replace(".", "_"))
        self.key, self.params = key, params
