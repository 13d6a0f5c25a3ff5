"""Between the edges and the connectors: build each vendor's payload, send it, collect results."""

from marshmallow import ValidationError

from connectors import DESTINATIONS, build_connectors
from schemas.outbound import justclick_payload, mailkit_payload


class NotConfigured(Exception):
    """A destination was asked for that has no credentials."""


class Dispatcher:
    """The configured destinations and how to reach each one."""

    def __init__(self, settings, connectors=None):
        self.settings = settings
        self.connectors = build_connectors(settings) if connectors is None else connectors

    def names(self, wanted="all"):
        """Destination names for 'all' or one name; NotConfigured when it cannot be reached."""
        if wanted == "all":
            if not self.connectors:
                raise NotConfigured("no destination is configured: set JUSTCLICK_LOGIN and "
                                    "JUSTCLICK_SECRET, or MAILKIT_CLIENT_ID and MAILKIT_CLIENT_MD5")
            return [name for name in DESTINATIONS if name in self.connectors]
        if wanted not in self.connectors:
            raise NotConfigured(f"{wanted} is not configured: run `flask check` to see what is missing")
        return [wanted]

    def payload(self, name, request):
        """The vendor payload for one destination; ValidationError when it cannot take this request."""
        if name == "justclick":
            return justclick_payload(request, self.settings.justclick_group)
        return mailkit_payload(request)

    def payloads(self, names, request):
        """Payloads for every named destination, or ValidationError keyed by destination."""
        built, errors = {}, {}
        for name in names:
            try:
                built[name] = self.payload(name, request)
            except ValidationError as exc:
                errors[name] = exc.messages
        if errors:
            raise ValidationError(errors)
        return built

    def send(self, name, payload):
        """Send one payload; always a Result."""
        return self.connectors[name].send(payload)

    def preview(self, name, payload):
        """The outbound request that would be sent, secrets redacted."""
        return self.connectors[name].preview(payload)


def target_fields(target):
    """An email when it has an @, otherwise a phone number."""
    target = target.strip()
    return {"email": target} if "@" in target else {"phone": target}


def unsubscribe_now(dispatcher, request, to="all"):
    """Validate for every destination first, then send to each; NotConfigured or ValidationError
    before anything is sent."""
    names = dispatcher.names(to)
    payloads = dispatcher.payloads(names, request)
    return [dispatcher.send(name, payload) for name, payload in payloads.items()]
