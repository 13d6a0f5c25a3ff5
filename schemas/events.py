"""Opt-outs made at a vendor (issue 20, item 2): the vendor-neutral event a connector reads from the vendor's
own notification, and the settings that say what is carried where. Pure: no I/O, every room may use them.

What each vendor sends is read in its connector module (connectors/mailkit_wire.py, connectors/justclick.py);
what becomes of an event is decided in delivery/events.py."""

from dataclasses import dataclass, field

TEMPORARY_POLICIES = ("ignore", "permanent")  # EVENTS_TEMPORARY: a temporary opt-out is ignored or carried
RECONCILE_DEFAULT = 3600.0


@dataclass(frozen=True)
class VendorEvent:
    """One opt-out a vendor says happened at its end.

    `source` is the vendor (mailkit, justclick), `address` the email as the vendor sent it, `method` how the
    person opted out as the vendor names it (Mailkit's METHOD, lowercase; "notification" for JustClick),
    `happened` the vendor's own time text (Mailkit's DATE; None when it sends none), `listed` the vendor's
    list or group (Mailkit's ID_ML, JustClick's id_group), `temporary` whether it ends by itself
    (Mailkit's TIMEOUT/EXPIRE), `unsubscribe` False for a notification that is no opt-out (JustClick's
    subscribe and activation notices)."""

    source: str
    address: str
    method: str | None = None
    happened: str | None = None
    listed: str | None = None
    temporary: bool = False
    unsubscribe: bool = True


class NotAnEvent(ValueError):
    """A body that is no vendor event at all (the route answers 4xx); its text names the problem, never a
    value from the body."""


@dataclass(frozen=True)
class EventSettings:
    """MAILKIT_EVENTS_TOKEN, JUSTCLICK_EVENTS_TOKEN (empty: that route is off), MAILKIT_LIST_GROUPS (a Mailkit
    list ID -> the JustClick group its opt-outs leave), EVENTS_TEMPORARY, EVENTS_RECONCILE_SECONDS."""

    tokens: dict = field(default_factory=dict, repr=False)  # vendor name -> its events token
    list_groups: dict = field(default_factory=dict)
    temporary: str = "ignore"
    reconcile_seconds: float = RECONCILE_DEFAULT

    def token(self, vendor):
        return self.tokens.get(vendor, "")

    @property
    def secrets(self):
        return tuple(value for value in self.tokens.values() if value)


def list_groups(text, problems):
    """MAILKIT_LIST_GROUPS ("12324:VIP,555:Main") as {"12324": "VIP", "555": "Main"}; a malformed pair is
    named in problems and left out."""
    pairs = {}
    for pair in (part.strip() for part in text.replace(";", ",").split(",")):
        if not pair:
            continue
        listed, _, group = (piece.strip() for piece in pair.partition(":"))
        if not (listed.isascii() and listed.isdigit() and group):
            problems.append(f"MAILKIT_LIST_GROUPS must read like '12324:VIP,555:Main' (a Mailkit list ID, a "
                            f"colon, a JustClick group); {pair[:40]!r} is left out")
            continue
        pairs[listed] = group
    return pairs


def read_event_settings(env, problems, number):
    """The events settings from the environment; `number` is settings.py's checked number reader."""
    temporary = env.get("EVENTS_TEMPORARY", "").strip().lower() or "ignore"
    if temporary not in TEMPORARY_POLICIES:
        problems.append(f"EVENTS_TEMPORARY must be ignore or permanent, got {temporary[:20]!r}; ignoring them")
        temporary = "ignore"
    tokens = {"mailkit": env.get("MAILKIT_EVENTS_TOKEN", "").strip(),
              "justclick": env.get("JUSTCLICK_EVENTS_TOKEN", "").strip()}
    return EventSettings(tokens={name: value for name, value in tokens.items() if value},
                         list_groups=list_groups(env.get("MAILKIT_LIST_GROUPS", ""), problems),
                         temporary=temporary,
                         reconcile_seconds=number(env, "EVENTS_RECONCILE_SECONDS", RECONCILE_DEFAULT,
                                                  float, problems, 0, 7 * 86400))
