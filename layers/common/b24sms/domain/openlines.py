"""Pure rules of two-way SMS in Open Lines: one chat per customer phone number, the words that opt a
number out and back in, and an operator's message (BB-codes) as plain SMS text."""

from __future__ import annotations

import html
import re

STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "СТОП"})


START_WORDS = frozenset({"START", "UNSTOP", "YES", "СТАРТ"})


def chat_id(phone: str) -> str:
    """One chat per customer phone number (per line): the number's digits."""
    return phone.lstrip("+")


def phone_of(chat: str) -> str:
    digits = re.sub(r"\D", "", chat)
    return f"+{digits}" if digits else ""


_URL = re.compile(r"\[url=([^\]]*)\](.*?)\[/url\]", re.IGNORECASE | re.DOTALL)


_QUOTE = re.compile(r"\[quote[^\]]*\](.*?)\[/quote\]\s*", re.IGNORECASE | re.DOTALL)


_EMPTY_TAGS = re.compile(r"\[(?:icon|attach|timestamp|context)(?:=[^\]]*)?\]", re.IGNORECASE)


_BR = re.compile(r"\[br\]", re.IGNORECASE)


# Tags whose content is kept as it is, the tags themselves dropped ([user=12]Anna[/user] -> Anna).
_TAGS = re.compile(
    r"\[/?(?:b|i|u|s|del|size|color|font|left|right|center|justify|code|img|url|user|chat|send|put|call|"
    r"pch|dialog|context|list|\*)(?:=[^\]]*)?\]",
    re.IGNORECASE,
)


def plain_text(text: str) -> str:
    """An operator's Open Lines message (BB-codes) as SMS text: ``[b]Anna:[/b][br]Hi`` -> ``Anna:\nHi``,
    ``[url=https://x.io]our site[/url]`` -> ``our site (https://x.io)``, a quote as ``> `` lines,
    ``[user=12]Anna[/user]`` -> ``Anna``. Brackets that are not BB-codes stay as they are."""
    out = _BR.sub("\n", text.replace("\r\n", "\n"))
    out = _EMPTY_TAGS.sub("", out)

    def url(match: re.Match[str]) -> str:
        target, label = match.group(1).strip().strip("\"'"), match.group(2).strip()
        return target if not label or label == target else f"{label} ({target})"

    out = _URL.sub(url, out)

    def quote(match: re.Match[str]) -> str:
        lines = [ln for ln in match.group(1).strip().split("\n") if ln.strip() and not set(ln.strip()) <= {"-"}]
        return "".join(f"> {ln.strip()}\n" for ln in lines)

    out = _QUOTE.sub(quote, out)
    out = _TAGS.sub("", out)
    out = html.unescape(out)
    out = re.sub(r"[ \t]{2,}", " ", out)
    out = re.sub(r"[ \t]+\n", "\n", out)
    return re.sub(r"\n{3,}", "\n\n", out).strip()
