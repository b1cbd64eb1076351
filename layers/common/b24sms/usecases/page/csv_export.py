"""The log's CSV export as a file: the rows ``log.export_log`` found, headed and worded by the page's
catalogues (``say``: a key and its parameters in the user's language), times in the session's zone."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

from b24sms.usecases.page.log import LogExport
from b24sms.usecases.page.timezone import local_time, zone

CSV_COLUMNS = ("log.time", "log.recipient", "log.sender", "log.status", "log.parts", "log.carrier_id", "log.error", "log.source")


def csv_text(export: LogExport, say: Callable[..., str], tz: str) -> str:
    """The exported log as CSV (UTF-8 with a BOM, for spreadsheets), its times in the zone ``tz`` (labelled
    in the header); numbers masked as the log shows them; a cell a spreadsheet would read as a formula is
    quoted with a leading '."""
    tzinfo, zone_label = zone(tz)

    def cell(value: object) -> str:
        text = str(value)
        return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([say(key) + (f" ({zone_label})" if key == "log.time" else "") for key in CSV_COLUMNS])
    for row in export.rows:
        m = row.message
        carrier = f"{m.carrier} {m.carrier_message_id}".strip()
        values = (local_time(m.created_at, tzinfo), row.recipient, m.code, say(f"status.{m.status}"), m.segments or "",
                  carrier, m.error_code, say(f"source.{row.source}"))  # fmt: skip
        writer.writerow([cell(v) for v in values])
    if export.truncated:
        writer.writerow([say("log.csv_truncated", limit=str(len(export.rows)))])
    return "\ufeff" + out.getvalue()
