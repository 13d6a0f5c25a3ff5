"""Pure formatting for the console's pages: times, the chart's and the backlog gauge's geometry."""

from datetime import datetime

CHART_WIDTH, CHART_HEIGHT, CHART_TOP = 600, 160, 4  # the SVG's user units; CSS scales it to the screen
STACK = ("done", "failed", "pending")  # bottom to top


def when(value):
    """'2026-11-23 21:03:35 UTC' from a naive-UTC datetime as the store returns it ('-' for None). Pages get
    datetimes, never strings: a string here is a bug upstream, not something to guess at."""
    if value is None:
        return "-"
    if not isinstance(value, datetime):
        raise TypeError(f"a time to show must be a datetime, not {type(value).__name__}")
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def bars(series, width=CHART_WIDTH, height=CHART_HEIGHT):
    """Stacked bars for [(day, {done, failed, pending})]:
    (peak, [{day, x, w, total, counts, parts: [(state, y, h)]}]).

    Heights scale to the busiest day; a non-zero count is at least 1 unit tall so it stays visible."""
    peak = max((sum(counts.values()) for _, counts in series), default=0)
    slot = width / max(len(series), 1)
    out = []
    for n, (day, counts) in enumerate(series):
        bottom, parts = float(CHART_TOP + height), []
        for state in STACK:
            count = counts.get(state, 0)
            if count:
                h = max(height * count / peak, 1.0)
                bottom -= h
                parts.append((state, round(bottom, 1), round(h, 1)))
        out.append({"day": day, "x": round(n * slot + slot * 0.1, 1), "w": round(slot * 0.8, 1),
                    "total": sum(counts.values()), "counts": counts, "parts": parts})
    return peak, out


def gauge(age_seconds, alert_seconds, limit_seconds, width=CHART_WIDTH):
    """The oldest pending delivery's age against the 48-hour limit: bar width, alert marker x, level."""
    share = min(age_seconds / limit_seconds, 1.0) if limit_seconds else 0.0
    level = "bad" if age_seconds >= alert_seconds else ("warn" if age_seconds >= alert_seconds / 2 else "ok")
    alert_share = min(alert_seconds / limit_seconds, 1.0) if limit_seconds else 0.0
    return {"width": round(width * share, 1), "alert_x": round(width * alert_share, 1),
            "level": level, "percent": round(share * 100)}
