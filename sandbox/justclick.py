"""JustClick's DeleteSubscribe and GetLeadGroupStatuses at /{login}/api/..., with its own PHP encoder and
signed answers.

The encoder is written byte by byte, independently of connectors/php.py, so the simulator checks our
signatures the way JustClick's PHP does rather than the way we compute them.
"""

import hashlib
import json
from urllib.parse import parse_qsl

from sandbox.server import NOT_FOUND, SERVICE_UNAVAILABLE, Recent, SimulatorServer, stays_subscribed, steered

SAFE = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
SUCCESS = (0, "Успешно")
# What each steering marker makes JustClick answer: (error_code, error_text).
STEERED_CODES = {
    "notfound": (801, "Контакт с таким email не найден"),
    "ratelimit": (8, "Исчерпан лимит запросов к API"),
}
# The same markers on GetLeadGroupStatuses.
READ_STEERED = {"notfound": (500, "Подписчик не найден"), "ratelimit": STEERED_CODES["ratelimit"]}
NO_CONTACT = (500, "Подписчик не найден")
IN_NO_GROUP = (501, "Группы не найдены")
# Each call and the fields it takes, in the order they are signed.
CALLS = {"DeleteSubscribe": {"lead_email", "rass_name"}, "GetLeadGroupStatuses": {"email"}}
SINCE = "2024-01-15 10:00:00"  # every simulated contact's subscription_time (its real format is undocumented)


def php_urlencode(text):
    """PHP's urlencode, written byte by byte (independent of the code under test)."""
    out = []
    for byte in text.encode("utf-8"):
        if byte in SAFE:
            out.append(chr(byte))
        elif byte == 0x20:
            out.append("+")
        else:
            out.append("%%%02X" % byte)
    return "".join(out)


def md5(text):
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def item(group, status):
    """One entry of GetLeadGroupStatuses' result."""
    return {"rass_name": group, "rass_title": group, "rass_status": status, "subscription_time": SINCE}


class JustClickSimulator(SimulatorServer):
    """One JustClick account. With `everyone_subscribed` (the sandbox) every group exists and every
    address is on it; otherwise `subscribe()` builds the account's groups (tests), and `statuses` holds the
    rass_status of contacts that left a group (or that a test set with `set_status()`).

    The sandbox's read-back cannot rely on memory: each process (every web worker, the `flask worker`) has
    simulators of its own, and the one asked is seldom the one that unsubscribed. So it answers that every
    address left `group` (the sandbox's default) and, from `left`, the groups it left through this process.
    """

    def __init__(self, login, secret, everyone_subscribed=False, record=True, group=None):
        super().__init__(record=record)
        self.login, self.secret = login, secret
        self.everyone_subscribed = everyone_subscribed
        self.group = group
        self.groups = {}
        self.statuses = {}
        self.left = Recent()

    def reset(self):
        super().reset()
        self.statuses.clear()
        self.left.clear()

    def api_url(self, login=None):
        return f"{self.base}/{login or self.login}/api/"

    def subscribe(self, email, group):
        self.groups.setdefault(group, set()).add(email)
        self.statuses.pop((group, email), None)

    def set_status(self, email, group, status):
        """The contact's rass_status in `group` (STATUS_WAIT, STATUS_UNSUBSCRIBE_BY_SERVICE, ...)."""
        self.groups.setdefault(group, set())
        self.statuses[(group, email)] = status

    def answer(self, code, text, hash_override=None, result=None):
        """A signed answer (the hash covers code and text only); `hash_override` replaces the hash ("" leaves
        it out)."""
        body = {"error_code": code, "error_text": text, "hash": md5(f"{code}::{text}::{self.secret}")}
        if result is not None:
            body["result"] = result
        if hash_override is not None:
            body["hash"] = hash_override
        if hash_override == "":
            del body["hash"]
        return 200, "application/json", json.dumps(body, ensure_ascii=False).encode()

    def handle(self, path, headers, body):
        call = next((name for name in CALLS if path.endswith(f"/api/{name}")), None)
        if call is None:
            return NOT_FOUND
        login = path.strip("/").split("/")[0]
        fields, refusal = self.verify(login, body.decode("utf-8"), CALLS[call])
        if refusal:
            return refusal
        if call == "GetLeadGroupStatuses":
            self.pause_if_slow(fields["email"])
            return self.forced(fields["email"], reading=True) or self.group_statuses(fields["email"])
        email, group = fields["lead_email"], fields["rass_name"]
        self.pause_if_slow(email)
        return self.forced(email) or self.unsubscribe(email, group)

    def verify(self, login, text, expected):
        """(fields, None) for a correctly signed call, else (None, the answer refusing it)."""
        signed, sep, digest = text.rpartition("&hash=")
        if not sep:
            return None, self.answer(1, "Не передана подпись запроса")
        pairs = parse_qsl(signed, keep_blank_values=True)
        if "&".join(f"{php_urlencode(k)}={php_urlencode(v)}" for k, v in pairs) != signed:
            return None, self.answer(4, "Неверная подпись запроса (not PHP encoding)")
        if login != self.login:
            return None, self.answer(5, "Логин не передан или не найден")
        if md5(f"{signed}::{login}::{self.secret}") != digest:
            return None, self.answer(4, "Неверная подпись запроса")
        fields = dict(pairs)
        if set(fields) != expected:
            return None, self.answer(3, "Неверные параметры")
        return fields, None

    def forced(self, email, reading=False):
        """The answer a test script or an address marker asks for, or None."""
        behaviour = self.scripted(email, reading)
        behaviour = steered(email) if behaviour is None else behaviour
        if behaviour is None:
            return None
        if isinstance(behaviour, int):
            return self.answer(behaviour, f"scripted {behaviour}")
        codes = READ_STEERED if reading else STEERED_CODES
        if behaviour in codes:
            return self.answer(*codes[behaviour])
        if behaviour in ("bad_hash", "badhash"):
            return self.answer(*SUCCESS, hash_override=md5("an answer someone else signed"))
        if behaviour == "no_hash":
            return self.answer(*SUCCESS, hash_override="")
        if behaviour == "down":
            return SERVICE_UNAVAILABLE
        return self.canned(behaviour)

    def unsubscribe(self, email, group):
        """The account's own answer: unknown group, not in it, or unsubscribed (`+stillsubscribed`: said,
        not done)."""
        if self.everyone_subscribed:  # but an address under .invalid is nobody's (RFC 2606): `flask check
            # --online` probes with one and, as from JustClick, must hear "no such contact"
            if email.lower().endswith(".invalid"):
                return self.answer(*STEERED_CODES["notfound"])
            self.left.put(email, self.left.get(email, frozenset()) | {group})
            return self.answer(*SUCCESS)
        if group not in self.groups:
            return self.answer(800, "Группа контактов не найдена")
        if email not in self.groups[group]:
            return self.answer(801, "Контакт с таким email не найден")
        if not stays_subscribed(email):
            self.groups[group].discard(email)
            self.statuses[(group, email)] = "STATUS_UNSUBSCRIBE"
        return self.answer(*SUCCESS)

    def group_statuses(self, email):
        """GetLeadGroupStatuses: the contact's status in each group it is or was in; 500 for a contact the
        account never had (the sandbox: an address under .invalid), 501 for one in no group."""
        if self.everyone_subscribed:
            if email.lower().endswith(".invalid"):
                return self.answer(*NO_CONTACT)
            left = sorted(self.left.get(email, frozenset()) | ({self.group} if self.group else set()))
            status = "STATUS_SUBSCRIBE" if stays_subscribed(email) else "STATUS_UNSUBSCRIBE"
            return self.answer(*SUCCESS, result=[item(g, status) for g in left]) if left \
                else self.answer(*IN_NO_GROUP)
        items = [item(group, self.statuses.get((group, email)) or "STATUS_SUBSCRIBE")
                 for group, members in self.groups.items()
                 if email in members or (group, email) in self.statuses]
        return self.answer(*SUCCESS, result=items) if items else self.answer(*NO_CONTACT)
