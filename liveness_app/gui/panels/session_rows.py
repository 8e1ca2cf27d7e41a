"""The cells of the session table: one manifest entry (or one refused entry) as short texts, and their colours.

Pure text from validated data, no widgets; a refused entry shows only what can be shown of it as text.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from PyQt6.QtGui import QColor

from ...core.sessions import InvalidEntry, shown

COLUMNS = ("Date", "Label", "Subject", "Length", "Frames", "Status")
REC_COLOUR = QColor(208, 32, 32)
INVALID_COLOUR = QColor(128, 128, 128)


def local_time(iso: Any, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    try:
        return datetime.fromisoformat(iso).astimezone().strftime(fmt)
    except (TypeError, ValueError, OverflowError):
        return shown(iso)  # short: a refused entry's "date" may be anything


def session_row(s: dict[str, Any]) -> tuple[str, ...]:
    """The table's cells for one (validated) manifest entry."""
    status = s["status"] + (" (recovered)" if s.get("recovered") else "")
    return (
        local_time(s["date"], "%m-%d %H:%M"),
        s["label"],
        s["subject"],
        f"{s['duration_s']:.1f} s",
        str(s["frames"]),
        status,
    )


def invalid_row(bad: InvalidEntry) -> tuple[str, ...]:
    """Cells for a refused entry: what can be shown of it as text, and why it was refused."""
    raw = bad.raw if isinstance(bad.raw, dict) else {}
    text = lambda key: shown(raw.get(key, ""))[:40]  # noqa: E731
    return (
        local_time(raw.get("date", ""), "%m-%d %H:%M"),
        text("label"),
        text("subject"),
        "",
        "",
        f"invalid: {bad.reason}",
    )
