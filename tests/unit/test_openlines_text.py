"""An operator's Open Lines message (BB-codes, as OnImConnectorMessageAdd carries it) as SMS text."""

from __future__ import annotations

import pytest

from b24sms.domain.openlines import plain_text


@pytest.mark.parametrize(
    ("bbcode", "text"),
    [
        ("[b]Anna Smith:[/b][br]Your order has left", "Anna Smith:\nYour order has left"),
        ("[B]Anna:[/B][BR]Hi", "Anna:\nHi"),
        ("See [url=https://shop.example/t/1]your parcel[/url]", "See your parcel (https://shop.example/t/1)"),
        ("[url]https://shop.example[/url]", "https://shop.example"),
        ("[url=https://shop.example]https://shop.example[/url]", "https://shop.example"),
        ("Ask [user=12]Bob Lee[/user]", "Ask Bob Lee"),
        ("[quote]Where is it?[/quote]On its way", "> Where is it?\nOn its way"),
        (
            "[quote]------------------------------------------------------[br]Jane [12.03.2025 10:01][br]Where?[br]"
            "------------------------------------------------------[/quote]Here",
            "> Jane [12.03.2025 10:01]\n> Where?\nHere",
        ),
        ("[i]soon[/i] [s]now[/s] [u]x[/u] [color=#f00]red[/color] [size=20]big[/size]", "soon now x red big"),
        ("Order [#123] and [A-7] stay", "Order [#123] and [A-7] stay"),
        ("Tom &amp; Jerry &quot;Ltd&quot;", 'Tom & Jerry "Ltd"'),
        ("[icon=https://x.example/i.png size=20] Done", "Done"),
        ("a[br][br][br][br]b", "a\n\nb"),
        ("  [b][/b]  ", ""),
    ],
)
def test_bb_codes_become_plain_text(bbcode: str, text: str):
    assert plain_text(bbcode) == text
