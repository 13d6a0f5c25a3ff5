"""Mailkit's mailkit.email.unsubscribe at /json.fcgi and /rpc.fcgi, for one client."""

import json
import xmlrpc.client
import zlib
from xml.parsers.expat import ExpatError

from sandbox.server import NOT_FOUND, SERVICE_UNAVAILABLE, SimulatorServer, steered

FUNCTION = "mailkit.email.unsubscribe"
# An XML-RPC answer that declares an entity: our connector refuses it as hostile (failed verification).
HOSTILE_XML = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]>'
               b"<methodResponse><params><param><value><string>&lol;</string>"
               b"</value></param></params></methodResponse>")
FIRST_ID = 282837490


def _looks_like_address(address):
    return "@" in address or (address.startswith("+") and address[1:].isdigit()) or address.isdigit()


def sandbox_id(address):
    """A stable ID_email for an address nobody subscribed (the sandbox), within XML-RPC's 32-bit int."""
    return 100_000_000 + zlib.crc32(address.encode("utf-8")) % 900_000_000


class MailkitSimulator(SimulatorServer):
    """One Mailkit client. With `everyone_subscribed` (the sandbox) every well-formed address is on a list;
    otherwise `subscribe()` puts it on one (tests)."""

    def __init__(self, client_id, client_md5, everyone_subscribed=False, record=True):
        super().__init__(record=record)
        self.client_id, self.client_md5 = client_id, client_md5
        self.everyone_subscribed = everyone_subscribed
        self.subscribed = {}
        self.unsubscribed = {}
        self.next_id = FIRST_ID
        self.calls = []

    def url(self, transport):
        return f"{self.base}/{'json' if transport == 'json' else 'rpc'}.fcgi"

    def subscribe(self, address):
        self.next_id += 1
        self.subscribed[address] = self.next_id

    def unsubscribe(self, address):
        """(kind, value): ('error', text), ('done', id), ('already', id) or ('nolist', address)."""
        if not address:
            return "error", "Missing ID_email or email"
        if not _looks_like_address(address):
            return "error", "Invalid ID_email or email"
        if self.everyone_subscribed:  # but ID_email 0 is nobody's (`flask check --online` asks it)
            if address.isdigit() and not int(address):
                return "error", "Invalid ID_email or email"
            return "done", int(address) if address.isdigit() else sandbox_id(address)
        if address.isdigit():
            by_id = {str(i): a for a, i in {**self.subscribed, **self.unsubscribed}.items()}
            if address not in by_id:
                return "error", "Invalid ID_email or email"
            address = by_id[address]
        if address in self.unsubscribed:
            return "already", self.unsubscribed[address]
        if address in self.subscribed:
            self.unsubscribed[address] = self.subscribed.pop(address)
            return "done", self.unsubscribed[address]
        return "nolist", address

    def handle(self, path, headers, body):
        if path.endswith("/json.fcgi"):
            return self.handle_json(body)
        if path.endswith("/rpc.fcgi"):
            return self.handle_xmlrpc(body)
        return NOT_FOUND

    def outcome(self, address):
        """After `+slow`'s pause: ('forced', what a test script or a marker asks for), else unsubscribe()'s."""
        self.pause_if_slow(address)
        behaviour = self.scripted(address)
        behaviour = steered(address) if behaviour is None else behaviour
        return ("forced", behaviour) if behaviour else self.unsubscribe(address)

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
        if call.get("function") != FUNCTION:
            return self._json({"error_status": 1, "error": "Unknown function"})
        if (str(call.get("id")), call.get("md5")) != (self.client_id, self.client_md5):
            return self._json({"error_status": 1, "error": "Unauthorized"})
        address = str(params.get("email") or params.get("ID_email") or "")
        kind, value = self.outcome(address)
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
        if method != FUNCTION:
            return self._xml("Unknown function")
        if not _xmlrpc_types_ok(params):
            return self._xml("Invalid parameters")
        if (str(params[0]), params[1]) != (self.client_id, self.client_md5):
            return self._xml("Unauthorized")
        address = str(params[2])
        kind, value = self.outcome(address)
        if kind == "forced":
            return self.forced_xmlrpc(value, address)
        if kind == "error":
            return self._xml(value)
        return self._xml(value, as_i4=kind != "nolist")

    def forced_xmlrpc(self, behaviour, address):
        if behaviour == "disallowed_ip":
            return self._xml("Disallowed IP 203.0.113.7")
        if behaviour == "notfound":  # Mailkit echoes an address that is in no list
            return self._xml(address)
        if behaviour == "fault":
            return 200, "text/xml", xmlrpc.client.dumps(
                xmlrpc.client.Fault(500, "Unauthorized"), methodresponse=True).encode()
        if behaviour in ("hostile", "badhash"):
            return 200, "text/xml", HOSTILE_XML
        return self.outage(behaviour)


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
