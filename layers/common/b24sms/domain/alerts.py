"""Admin alerts (issue #20 item 4): the portal's administrators are told, once, when sending breaks
(the carrier refuses our credentials, the account is suspended or out of money, the delivery rate of
the last hour falls below the portal's threshold) and once more when it recovers. Pure: the causes,
their notification TAGs (one per cause: a repeat replaces the earlier one instead of piling up), the
texts in the portal's language, and the delivery-rate rule."""

from __future__ import annotations

from b24sms.domain import holds

DELIVERY = "delivery"  # the delivery rate of the last hour is below the portal's threshold
CAUSES = (*holds.CAUSES, DELIVERY)
TAG_PREFIX = "b24sms."  # im.notify.system.add's TAG: b24sms.<cause>
DEFAULT_THRESHOLD = 80  # percent delivered of the last hour's final statuses
MIN_MESSAGES = 20  # fewer final statuses in the hour say nothing about the rate

TEXTS: dict[str, dict[str, tuple[str, str]]] = {  # lang -> cause -> (broken, recovered)
    "en": {
        holds.CREDENTIALS: (
            "SMS: the carrier refuses the account's credentials ({code}). New SMS wait and are not lost. "
            "Enter the right credentials on the application's page and press Check.",
            "SMS: the carrier accepts the account again; the waiting SMS are being sent.",
        ),
        holds.SUSPENDED: (
            "SMS: the carrier account is suspended ({code}). New SMS wait and are not lost. "
            "Reactivate the account with the carrier, then press Check on the application's page.",
            "SMS: the carrier account works again; the waiting SMS are being sent.",
        ),
        holds.BALANCE: (
            "SMS: the carrier account has no balance left ({code}). New SMS wait and are not lost. "
            "Top the account up with the carrier, then press Check on the application's page.",
            "SMS: the carrier account has a balance again; the waiting SMS are being sent.",
        ),
        DELIVERY: (
            "SMS: only {rate}% of the last hour's SMS were delivered (threshold {threshold}%). "
            "See the reasons in the log on the application's page.",
            "SMS: the delivery rate is back above {threshold}%.",
        ),
    },
    "ru": {
        holds.CREDENTIALS: (
            "SMS: оператор не принимает учётные данные аккаунта ({code}). Новые SMS ждут и не теряются. "
            "Укажите верные данные на странице приложения и нажмите «Проверить».",
            "SMS: оператор снова принимает аккаунт; ожидавшие SMS отправляются.",
        ),
        holds.SUSPENDED: (
            "SMS: аккаунт у оператора заблокирован ({code}). Новые SMS ждут и не теряются. "
            "Восстановите аккаунт у оператора и нажмите «Проверить» на странице приложения.",
            "SMS: аккаунт у оператора снова работает; ожидавшие SMS отправляются.",
        ),
        holds.BALANCE: (
            "SMS: на счёте аккаунта у оператора закончились средства ({code}). Новые SMS ждут и не теряются. "
            "Пополните счёт у оператора и нажмите «Проверить» на странице приложения.",
            "SMS: на счёте аккаунта снова есть средства; ожидавшие SMS отправляются.",
        ),
        DELIVERY: (
            "SMS: за последний час доставлено лишь {rate}% SMS (порог {threshold}%). Причины — в журнале на странице приложения.",
            "SMS: доля доставленных снова выше {threshold}%.",
        ),
    },
}
LINK = {"en": "Open the application's page", "ru": "Открыть страницу приложения"}


def tag(cause: str) -> str:
    return f"{TAG_PREFIX}{cause}"


def message(cause: str, lang: str, recovered: bool, page_url: str, **values: object) -> str:
    """The notification's text (BB-code, as ``im.notify.system.add`` takes it) in ``lang`` (else English),
    with a link to the application's page."""
    texts = TEXTS.get(lang) or TEXTS["en"]
    broken, fixed = texts.get(cause) or TEXTS["en"][cause]
    text = (fixed if recovered else broken).format_map(_Defaults(values))
    link = LINK.get(lang) or LINK["en"]
    return f"{text} [URL={page_url}]{link}[/URL]" if page_url else text


def rate_breached(final: int, delivered: int, threshold: int, minimum: int = MIN_MESSAGES) -> bool | None:
    """Whether ``delivered`` of ``final`` statuses is below ``threshold`` percent; None when there are
    too few to tell (fewer than ``minimum``), so neither an alert nor a recovery follows."""
    if final < max(minimum, 1):
        return None
    return delivered * 100 < threshold * final


class _Defaults(dict[str, object]):
    def __missing__(self, key: str) -> str:
        return "?"
