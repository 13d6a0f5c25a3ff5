"""Mailkit's mailkit.email.unsubscribe and mailkit.email.unsubscribe.getstatus at /json.fcgi and /rpc.fcgi,
for one client."""

import json
import xmlrpc.client
import zlib
from datetime import datetime, timedelta, timezone
from xml.parsers.expat import ExpatError

from sandbox.server import NOT_FOUND, SERVICE_UNAVAILABLE, Recent, SimulatorServer, stays_subscribed, steered

FUNCTION = "mailkit.email.unsubscribe"
READ_FUNCTION = "mailkit.email.unsubscribe.getstatus"
LIST_FUNCTION = "mailkit.mailinglist.unsubscribed"
FUNCTIONS = (FUNCTION, READ_FUNCTION, LIST_FUNCTION)
PERMANENT = "0000-00-00"  # getstatus' timeout.date for an opt-out without an end
NO_CONTACT = "Invalid ID_email or email"
# An XML-RPC answer that declares an entity: our connector refuses it as hostile (failed verification).
HOSTILE_XML = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]>'
               b"<methodResponse><params><param><value><string>&lol;</string>"
               b"</value></param></params></methodResponse>")
FIRST_ID = 282837490


def _looks_like_address(address):
    return "@" in address or (address.startswith("+") and address[1:].isdigit()) or address.isdigit()


def until(timeout_days):
    """timeout.date of a temporary opt-out made today (UTC) for `timeout_days`, or PERMANENT."""
    if not timeout_days:
        return PERMANENT
    return (datetime.now(timezone.utc).date() + timedelta(days=int(timeout_days))).isoformat()


def sandbox_id(address):
    """A stable ID_email for an address nobody subscribed (the sandbox), within XML-RPC's 32-bit int."""
    return 100_000_000 + zlib.crc32(address.encode("utf-8")) % 900_000_000


class MailkitSimulator(SimulatorServer):
    """One Mailkit client. With `everyone_subscribed` (the sandbox) every well-formed address is on a list;
    otherwise `subscribe()` puts an address on one (tests), and `timeouts` holds the last day of temporary
    opt-outs.

    The sandbox's read-back cannot rely on memory (each process has simulators of its own, see
    sandbox/justclick.py): every address reads as unsubscribed, permanently unless this process made it a
    temporary opt-out recently (`left`).
    """

    def __init__(self, client_id, client_md5, everyone_subscribed=False, record=True):
        super().__init__(record=record)
        self.client_id, self.client_md5 = client_id, client_md5
        self.everyone_subscribed = everyone_subscribed
        self.subscribed = {}
        self.unsubscribed = {}
        self.timeouts = {}
        self.left = Recent()
        self.next_id = FIRST_ID
        self.calls = []
        self.listed = []  # (DATE, address) of every opt-out, for mailkit.mailinglist.unsubscribed (tests)

    def reset(self):
        super().reset()
        self.timeouts.clear()
        self.left.clear()
        self.listed.clear()

    def opt_out(self, address, when=None):
        """A person's own opt-out at Mailkit (its link, a spam report): off the list and in the unsubscribed
        list, dated `when` (naive UTC; now by default). Returns the DATE its webhook would carry."""
        self.unsubscribed[address] = self.subscribed.pop(address, None) or self.unsubscribed.get(address) \
            or self.next_id
        date = (when or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M:%S")
        self.listed.append((date, address))
        return date

    def unsubscribed_since(self, day):
        """mailkit.mailinglist.unsubscribed: every opt-out from the day `day` (YYYY-MM-DD) on."""
        return [{"DATE": date, "ID_UNSUBSCRIBE_GROUP": "", "EMAIL": address}
                for date, address in self.listed if date[:10] >= day]

    def url(self, transport):
        return f"{self.base}/{'json' if transport == 'json' else 'rpc'}.fcgi"

    def subscribe(self, address):
        self.next_id += 1
        self.subscribed[address] = self.next_id

    def unsubscribe(self, address, timeout_days=None):
        """(kind, value): ('error', text), ('done', id), ('already', id) or ('nolist', address). A
        `+stillsubscribed` address is answered 'done' and stays on its list."""
        if not address:
            return "error", "Missing ID_email or email"
        if not _looks_like_address(address):
            return "error", NO_CONTACT
        if self.everyone_subscribed:  # but ID_email 0 is nobody's (`flask check --online` asks it)
            if address.isdigit() and not int(address):
                return "error", NO_CONTACT
            self.left.put(address, until(timeout_days))
            return "done", int(address) if address.isdigit() else sandbox_id(address)
        address = self.by_id(address)
        if address is None:
            return "error", NO_CONTACT
        if address in self.unsubscribed:
            self.timeouts[address] = until(timeout_days)  # a later opt-out's timeout replaces the earlier
            return "already", self.unsubscribed[address]
        if address in self.subscribed:
            if not stays_subscribed(address):
                self.opt_out(address)  # an API client's opt-out is listed like anyone's
                self.timeouts[address] = until(timeout_days)
            return "done", self.subscribed.get(address) or self.unsubscribed[address]
        return "nolist", address

    def by_id(self, address):
        """The address an ID_email names (None for an unknown ID); an address as it is."""
        if not address.isdigit():
            return address
        return {str(i): a for a, i in {**self.subscribed, **self.unsubscribed}.items()}.get(address)

    def unsubscribe_status(self, address):
        """getstatus: ('error', text) or ('status', "TRUE" | "FALSE", timeout date, ID_email, address). An
        address Mailkit never held is refused like an unknown ID (an assumption: Mailkit documents none)."""
        if not address or not _looks_like_address(address) or address == "0":
            return "error", NO_CONTACT
        if self.everyone_subscribed:
            gone = not stays_subscribed(address)
            date = self.left.get(address, PERMANENT) if gone else PERMANENT
            by_id = address.isdigit()
            return ("status", "TRUE" if gone else "FALSE", date,
                    int(address) if by_id else sandbox_id(address), "" if by_id else address)
        address = self.by_id(address)
        if address in self.unsubscribed:
            date = self.timeouts.get(address, PERMANENT)
            return "status", "TRUE", date, self.unsubscribed[address], address
        if address in self.subscribed:
            return "status", "FALSE", PERMANENT, self.subscribed[address], address
        return "error", NO_CONTACT

    def handle(self, path, headers, body):
        if path.endswith("/json.fcgi"):
            return self.handle_json(body)
        if path.endswith("/rpc.fcgi"):
            return self.handle_xmlrpc(body)
        return NOT_FOUND

    def outcome(self, address, timeout_days=None, reading=False):
        """After `+slow`'s pause: ('forced', what a test script or a marker asks for), else what the call
        (unsubscribe or, `reading`, getstatus) answers."""
        self.pause_if_slow(address)
        behaviour = self.scripted(address, reading)
        behaviour = steered(address) if behaviour is None else behaviour
        if behaviour:
            return "forced", behaviour
        return self.unsubscribe_status(address) if reading else self.unsubscribe(address, timeout_days)

    def record_call(self, transport, call):
        if self.record:
            self.calls.append((transport, call))

    @staticmethod
    def _json(obj):
        return 200, "application/json", json.dumps(obj).encode()

    def handle_json(self, body):
        call = json.loads(body)
        params = call.get("parameters", {})
        self.record_call("json", call)
        if call.get("function") not in FUNCTIONS:
            return self._json({"error_status": 1, "error": "Unknown function"})
        if (str(call.get("id")), call.get("md5")) != (self.client_id, self.client_md5):
            return self._json({"error_status": 1, "error": "Unauthorized"})
        if call["function"] == LIST_FUNCTION:
            return self._json(self.unsubscribed_since(str(params.get("range_from") or "")))
        address = str(params.get("email") or params.get("ID_email") or "")
        if call["function"] == READ_FUNCTION:
            return self.read_json(address)
        temporary = str(params.get("timeout", "")).upper() == "TRUE"
        kind, value = self.outcome(address, params.get("timeout_days") if temporary else None)
        if kind == "forced":
            return self.forced_json(value, address)
        if kind == "error":
            return self._json({"error_status": 1, "error": value})
        status = "2" if kind == "already" else "1"
        return self._json({"error_status": "0", "ID_email": str(value), "status": status})

    def forced_json(self, behaviour, address):
        if behaviour == "disallowed_ip":
            return self._json({"error_status": 1, "error": "Disallowed IP 203.0.113.7"})
        if behaviour == "notfound":  # Mailkit echoes an address that is in no list
            return self._json({"error_status": "0", "ID_email": address, "status": "1"})
        if behaviour == "badhash":  # JSON answers carry no signature: a status Mailkit never documents
            return self._json({"error_status": "0", "ID_email": str(sandbox_id(address)), "status": "0"})
        return self.outage(behaviour)

    def read_json(self, address):
        """getstatus' JSON answer: the contact, its `unsubscribe` flag and `timeout.date`."""
        kind, *value = self.outcome(address, reading=True)
        if kind == "forced":
            return self.forced_read_json(value[0], address)
        if kind == "error":
            return self._json({"error_status": 1, "error": value[0]})
        flag, date, id_email, email = value
        return self._json({"email": email, "error_status": "0", "topics": None, "ID_email": str(id_email),
                           "unsubscribe": flag, "timeout": {"date": date}})

    def forced_read_json(self, behaviour, address):
        if behaviour == "disallowed_ip":
            return self._json({"error_status": 1, "error": "Disallowed IP 203.0.113.7"})
        if behaviour == "notfound":
            return self._json({"error_status": 1, "error": NO_CONTACT})
        if behaviour == "badhash":  # unsigned: an answer about another address is what cannot be believed
            return self._json({"email": "someone.else@example.invalid", "error_status": "0", "topics": None,
                               "ID_email": "1", "unsubscribe": "TRUE", "timeout": {"date": PERMANENT}})
        return self.outage(behaviour)

    def outage(self, behaviour):
        """An answer that is not Mailkit's: `+down`, `+ratelimit` and the suite's canned ones."""
        return {"down": SERVICE_UNAVAILABLE, "ratelimit": self.canned("429")}.get(behaviour) \
            or self.canned(behaviour)

    @staticmethod
    def _xml(value, as_i4=False):
        text = xmlrpc.client.dumps((value,), methodresponse=True)
        if as_i4:
            text = text.replace("<int>", "<i4>").replace("</int>", "</i4>")
        return 200, "text/xml", text.encode()

    def handle_xmlrpc(self, body):
        try:
            params, method = xmlrpc.client.loads(body)
        except (ExpatError, xmlrpc.client.ResponseError):
            return 400, "text/plain", b"not XML-RPC"
        self.record_call("xmlrpc", params)
        if method not in FUNCTIONS:
            return self._xml("Unknown function")
        reading = method != FUNCTION
        if not (_read_types_ok if reading else _xmlrpc_types_ok)(params):
            return self._xml("Invalid parameters")
        if (str(params[0]), params[1]) != (self.client_id, self.client_md5):
            return self._xml("Unauthorized")
        if method == LIST_FUNCTION:
            return self._xml(self.unsubscribed_since(str(params[2])))
        address = str(params[2])
        kind, *value = self.outcome(address, params[5]["timeout_days"] if len(params) == 6 else None,
                                    reading=reading)
        if kind == "forced":
            return self.forced_xmlrpc(value[0], address, reading)
        if kind in ("error", "status"):  # getstatus answers its flag only: TRUE or FALSE
            return self._xml(value[0])
        return self._xml(value[0], as_i4=kind != "nolist")

    def forced_xmlrpc(self, behaviour, address, reading=False):
        if behaviour == "disallowed_ip":
            return self._xml("Disallowed IP 203.0.113.7")
        if behaviour == "notfound":  # Mailkit echoes an address that is in no list, and knows no contact
            return self._xml(NO_CONTACT if reading else address)
        if behaviour == "fault":
            return 200, "text/xml", xmlrpc.client.dumps(
                xmlrpc.client.Fault(500, "Unauthorized"), methodresponse=True).encode()
        if behaviour in ("hostile", "badhash"):
            return 200, "text/xml", HOSTILE_XML
        return self.outage(behaviour)


def _read_types_ok(params):
    """getstatus: client_id int, md5 string, email_id (an ID or an address)."""
    return len(params) == 3 and isinstance(params[0], int) and isinstance(params[1], str) \
        and isinstance(params[2], (int, str)) and not isinstance(params[2], bool)


def _xmlrpc_types_ok(params):
    """client_id int, md5 string, target, campaign, send_optout bool[, {timeout: true, timeout_days: int}]."""
    if len(params) not in (5, 6):
        return False
    ok = isinstance(params[0], int) and isinstance(params[1], str) and isinstance(params[4], bool)
    if len(params) == 6:
        extra = params[5]
        ok = ok and isinstance(extra, dict) and extra.get("timeout") is True \
            and isinstance(extra.get("timeout_days"), int)
    return ok
