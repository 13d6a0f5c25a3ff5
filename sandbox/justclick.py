"""JustClick's DeleteSubscribe at /{login}/api/DeleteSubscribe, with its own PHP encoder and signed answers.

The encoder is written byte by byte, independently of connectors/php.py, so the simulator checks our
signatures the way JustClick's PHP does rather than the way we compute them.
"""

import hashlib
import json
from urllib.parse import parse_qsl

from sandbox.server import NOT_FOUND, SERVICE_UNAVAILABLE, SimulatorServer, steered

SAFE = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
SUCCESS = (0, "Успешно")
# What each steering marker makes JustClick answer: (error_code, error_text).
STEERED_CODES = {
    "notfound": (801, "Контакт с таким email не найден"),
    "ratelimit": (8, "Исчерпан лимит запросов к API"),
}


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


class JustClickSimulator(SimulatorServer):
    """One JustClick account. With `everyone_subscribed` (the sandbox) every group exists and every
    address is on it; otherwise `subscribe()` builds the account's groups (tests)."""

    def __init__(self, login, secret, everyone_subscribed=False, record=True):
        super().__init__(record=record)
        self.login, self.secret = login, secret
        self.everyone_subscribed = everyone_subscribed
        self.groups = {}

    def api_url(self, login=None):
        return f"{self.base}/{login or self.login}/api/"

    def subscribe(self, email, group):
        self.groups.setdefault(group, set()).add(email)

    def answer(self, code, text, hash_override=None):
        """A signed answer; `hash_override` replaces the hash ("" leaves it out)."""
        body = {"error_code": code, "error_text": text, "hash": md5(f"{code}::{text}::{self.secret}")}
        if hash_override is not None:
            body["hash"] = hash_override
        if hash_override == "":
            del body["hash"]
        return 200, "application/json", json.dumps(body, ensure_ascii=False).encode()

    def handle(self, path, headers, body):
        if not path.endswith("/api/DeleteSubscribe"):
            return NOT_FOUND
        login = path.strip("/").split("/")[0]
        fields, refusal = self.verify(login, body.decode("utf-8"))
        if refusal:
            return refusal
        email, group = fields["lead_email"], fields["rass_name"]
        self.pause_if_slow(email)
        return self.forced(email) or self.unsubscribe(email, group)

    def verify(self, login, text):
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
        if set(fields) != {"lead_email", "rass_name"}:
            return None, self.answer(3, "Неверные параметры")
        return fields, None

    def forced(self, email):
        """The answer a test script or an address marker asks for, or None."""
        behaviour = self.scripted(email)
        behaviour = steered(email) if behaviour is None else behaviour
        if behaviour is None:
            return None
        if isinstance(behaviour, int):
            return self.answer(behaviour, f"scripted {behaviour}")
        if behaviour in STEERED_CODES:
            return self.answer(*STEERED_CODES[behaviour])
        if behaviour in ("bad_hash", "badhash"):
            return self.answer(*SUCCESS, hash_override=md5("an answer someone else signed"))
        if behaviour == "no_hash":
            return self.answer(*SUCCESS, hash_override="")
        if behaviour == "down":
            return SERVICE_UNAVAILABLE
        return self.canned(behaviour)

    def unsubscribe(self, email, group):
        """The account's own answer: unknown group, not in it, or unsubscribed."""
        if self.everyone_subscribed:  # but an address under .invalid is nobody's (RFC 2606): `flask check
            # --online` probes with one and, as from JustClick, must hear "no such contact"
            nobody = email.lower().endswith(".invalid")
            return self.answer(*(STEERED_CODES["notfound"] if nobody else SUCCESS))
        if group not in self.groups:
            return self.answer(800, "Группа контактов не найдена")
        if email not in self.groups[group]:
            return self.answer(801, "Контакт с таким email не найден")
        self.groups[group].discard(email)
        return self.answer(*SUCCESS)
