"""The page's refusal of bad input, in the words of its catalogues."""

from __future__ import annotations

from b24sms.domain.errors import Invalid


class PageError(Invalid):
    """Bad input on the page: ``key`` names the sentence in the page's catalogues."""

    def __init__(self, key: str, **params: str) -> None:
        super().__init__(key, key.replace(".", "_"))
        self.key, self.params = key, params


class FieldErrors(PageError):
    """Every field of a form that is wrong, at once: ``problems`` are (the field's label key, the
    sentence's key, its parameters), in the form's order."""

    def __init__(self, problems: list[tuple[str, str, dict[str, str]]]) -> None:
        super().__init__("check.fields")
        self.problems = problems
