"""Wording both the console and the public pages use."""


def age(seconds):
    """A short human age: 40 s, 12 min, 3.5 h, 2.1 days (a negative or missing age reads as 0 s)."""
    seconds = max(float(seconds or 0), 0.0)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h" if seconds < 172800 else f"{seconds / 86400:.1f} days"
