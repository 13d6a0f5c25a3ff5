"""What a vendor says about itself, so that settings, planning, the check report and the CLI loop over vendors.

After Apprise's service classes: each vendor module declares its name, the environment variables it reads
(and which are secret), how its configuration is read and its connector built, the payload schema, which
ledger fields a payload fills, what `flask check` reports and how a dry run previews a call.
"""

from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Var:
    """One environment variable a vendor reads."""

    name: str
    attr: str  # the config field it fills
    required: bool = False
    secret: bool = False
    doc: str = ""


@dataclass(frozen=True)
class LedgerFields:
    """What a payload puts in the ledger's own columns, so queries never read vendor wire keys."""

    target: str
    group: str | None = None
    campaign: str | None = None
    options: dict | None = None


class Vendor:
    """Base description; subclasses fill the class attributes and the few methods below."""

    name = ""
    variables: tuple = ()
    config_class = None
    default_rate = 10.0  # deliveries per second across all processes; see the vendor's own reason

    @property
    def rate_variable(self):
        """The variable that sets this vendor's delivery rate (JUSTCLICK_MAX_RATE, ...)."""
        return f"{self.name.upper()}_MAX_RATE"

    def read(self, env, problems):
        """The vendor's typed, frozen configuration from the environment; malformed values go to problems."""
        values = {var.attr: env.get(var.name, "").strip() for var in self.variables}
        return self.config_class(**self.checked(values, problems))

    def checked(self, values, problems):  # pragma: no cover - overridden where a vendor checks more
        return values

    def missing(self, config):
        """Names of required variables that are not set."""
        return [var.name for var in self.variables if var.required and not getattr(config, var.attr)]

    def secrets(self, config):
        """The secret values of this configuration, for scrubbing logs."""
        return [getattr(config, var.attr) for var in self.variables if var.secret and getattr(config, var.attr)]

    def usable(self, config):
        """True when a connector can be built from this configuration."""
        return not self.missing(config)

    def build(self, config, timeout):  # pragma: no cover - every vendor overrides it
        raise NotImplementedError

    def payload(self, request, config):  # pragma: no cover - every vendor overrides it
        """The vendor payload for an UnsubscribeRequest; marshmallow ValidationError when it cannot be sent."""
        raise NotImplementedError

    def ledger_fields(self, payload):  # pragma: no cover - every vendor overrides it
        raise NotImplementedError

    def report(self, config):
        """What `flask check` shows besides configured/missing: URLs and defaults, never a secret."""
        return {}

    def probe(self, connector, config):  # pragma: no cover - every vendor overrides it
        """One harmless, documented call that proves the credentials and this server's IP are accepted,
        unsubscribing nobody: (ok, message). An answer it cannot classify is never ok."""
        raise NotImplementedError


def check_url(name, value, problems):
    """An http(s) URL, or '' with a problem named."""
    if value and urlsplit(value).scheme not in ("http", "https"):
        problems.append(f"{name} must be an http(s) URL")
        return ""
    return value
