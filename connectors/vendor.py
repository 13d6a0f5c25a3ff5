"""What a vendor says about itself, so that settings, intake, planning, links, the check report and the CLI
loop over vendors instead of naming them.

After Apprise's service classes: each vendor module declares its name, the environment variables it reads
(and which are secret), the request fields it reads beyond the address (with the names senders use for
them), which kinds of address it takes, how its configuration is read and its connector built, the Delivery
it makes of an Unsubscribe, what `flask check` reports and how it probes its credentials.
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


@dataclass(frozen=True)
class Option:
    """A request field a vendor reads besides the address: its key in requests and answers' errors, the
    marshmallow field that validates it, the other names senders give it, and whether a public form key may
    carry it. Two vendors reading the same key declare the same Option."""

    key: str
    field: object
    aliases: tuple = ()
    public: bool = False
    identifies: bool = False  # names the person by itself (a vendor's contact ID), instead of an address


class Vendor:
    """Base description; subclasses fill the class attributes and the few methods below."""

    name = ""
    title = ""  # as people write it, in messages
    variables: tuple = ()
    targets = ("email", "phone")  # the kinds of address it unsubscribes
    options: tuple = ()  # Option, the request fields it reads besides the address
    aliases: dict = {}  # address field ("email", "phone") -> this vendor's wire names senders also use
    config_class = None
    default_rate = 10.0  # deliveries per second across all processes; see the vendor's own reason
    # True when its connector can read a contact's state back (Connector.read_back): only then are its
    # deliveries scheduled for confirmation.
    supports_read_back = False

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

    def delivery(self, unsubscribe, config):  # pragma: no cover - every vendor overrides it
        """The Delivery this vendor makes of an Unsubscribe (schemas/shapes.py): its payload, the ledger's
        columns, and what earlier deliveries also answer it; marshmallow ValidationError when it cannot be
        sent."""
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
