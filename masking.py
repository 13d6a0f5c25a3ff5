"""Masking personal data for logs and alerts: pure, imports nothing, shared by the edge and delivery/."""


def mask(target):
    """j***@e***.com for emails, +420*****456 for phone numbers; never the whole address."""
    if not target:
        return "-"
    target = str(target)
    if "@" in target:
        local, _, domain = target.rpartition("@")
        name, dot, tld = domain.rpartition(".")
        return f"{local[:1]}***@{(name or tld)[:1]}***{dot}{tld if name else ''}"
    return target[:4] + "*" * max(len(target) - 7, 1) + target[-3:] if len(target) > 7 else "***"
