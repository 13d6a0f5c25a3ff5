"""Local protocol peers that speak JustClick's and Mailkit's wire formats on 127.0.0.1.

They keep real account state (groups, lists), recompute our signatures with their own
encoder, and answer signed JSON or XML-RPC. `script` forces an answer for one address.
"""

import hashlib
import json
import threading
import time
import xmlrpc.client
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

SAFE = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")


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


class FakeServer:
    """A threaded HTTP server on 127.0.0.1:0 with a handle(path, headers, body) hook."""

    def __init__(self):
        self.requests = []
        self.script = {}
        self.hang_seconds = 3.0
        self.delay = 0.0
        self.on_request = None
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with fake.lock:
                    fake.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                if fake.on_request:
                    fake.on_request(body)
                if fake.delay:
                    time.sleep(fake.delay)
                status, ctype, payload = fake.handle(self.path, self.headers, body)
                if status == "hang":
                    time.sleep(fake.hang_seconds)
                    status, ctype, payload = 200, "text/plain", b"too late"
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a timeout test): nothing to answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def reset(self):
        self.requests.clear()
        self.script.clear()
        self.delay = 0.0
        self.on_request = None

    def scripted(self, key):
        return self.script.get(key)

    @staticmethod
    def canned(behaviour):
        """Answers that are not the vendor's: outages, proxies, garbage."""
        return {
            "500": (500, "text/html", b"<html><body>Internal Server Error</body></html>"),
            "502": (502, "text/html", b"<html>Bad Gateway</html>"),
            "429": (429, "text/plain", b"slow down"),
            "html": (200, "text/html", b"<!DOCTYPE html><html><body>Maintenance</body></html>"),
            "non_json": (200, "text/plain", b"OK"),
            "hang": ("hang", "", b""),
        }.get(behaviour)


class JustClickFake(FakeServer):
    """JustClick's DeleteSubscribe at /{login}/api/DeleteSubscribe."""

    def __init__(self, login="acme", secret="jc-secret-key"):
        super().__init__()
        self.login, self.secret = login, secret
        self.groups = {}

    def api_url(self, login=None):
        return f"{self.base}/{login or self.login}/api/"

    def subscribe(self, email, group):
        self.groups.setdefault(group, set()).add(email)

    def answer(self, code, text, hash_override=None):
        body = {"error_code": code, "error_text": text,
                "hash": md5(f"{code}::{text}::{self.secret}")}
        if hash_override is not None:
            body["hash"] = hash_override
        if hash_override == "":
            del body["hash"]
        return 200, "application/json", json.dumps(body, ensure_ascii=False).encode()

    def handle(self, path, headers, body):
        login = path.strip("/").split("/")[0]
        if not path.endswith("/api/DeleteSubscribe"):
            return 404, "text/html", b"<html>404</html>"
        text = body.decode("utf-8")
        signed, sep, digest = text.rpartition("&hash=")
        if not sep:
            return self.answer(1, "Не передана подпись запроса")
        pairs = parse_qsl(signed, keep_blank_values=True)
        if "&".join(f"{php_urlencode(k)}={php_urlencode(v)}" for k, v in pairs) != signed:
            return self.answer(4, "Неверная подпись запроса (not PHP encoding)")
        if login != self.login:
            return self.answer(5, "Логин не передан или не найден")
        if md5(f"{signed}::{login}::{self.secret}") != digest:
            return self.answer(4, "Неверная подпись запроса")
        fields = dict(pairs)
        if set(fields) != {"lead_email", "rass_name"}:
            return self.answer(3, "Неверные параметры")
        email, group = fields["lead_email"], fields["rass_name"]
        behaviour = self.scripted(email)
        if isinstance(behaviour, int):
            return self.answer(behaviour, f"scripted {behaviour}")
        if behaviour == "bad_hash":
            return self.answer(0, "Успешно", hash_override="0" * 32)
        if behaviour == "no_hash":
            return self.answer(0, "Успешно", hash_override="")
        if behaviour:
            return self.canned(behaviour)
        if group not in self.groups:
            return self.answer(800, "Группа контактов не найдена")
        if email not in self.groups[group]:
            return self.answer(801, "Контакт с таким email не найден")
        self.groups[group].discard(email)
        return self.answer(0, "Успешно")


class MailkitFake(FakeServer):
    """Mailkit's /json.fcgi and /rpc.fcgi for one client."""

    def __init__(self, client_id="12345", client_md5="mk-md5-secret"):
        super().__init__()
        self.client_id, self.client_md5 = client_id, client_md5
        self.subscribed = {}
        self.unsubscribed = {}
        self.next_id = 282837490
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
        if address.isdigit():
            by_id = {str(i): a for a, i in {**self.subscribed, **self.unsubscribed}.items()}
            if address not in by_id:
                return "error", "Invalid ID_email or email"
            address = by_id[address]
        if "@" not in address and not (address.startswith("+") and address[1:].isdigit()) \
                and not address.isdigit():
            return "error", "Invalid ID_email or email"
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
        return 404, "text/html", b"<html>404</html>"

    def _json(self, obj):
        return 200, "application/json", json.dumps(obj).encode()

    def handle_json(self, body):
        call = json.loads(body)
        params = call.get("parameters", {})
        self.calls.append(("json", call))
        if call.get("function") != "mailkit.email.unsubscribe":
            return self._json({"error_status": 1, "error": "Unknown function"})
        if (str(call.get("id")), call.get("md5")) != (self.client_id, self.client_md5):
            return self._json({"error_status": 1, "error": "Unauthorized"})
        address = params.get("email") or params.get("ID_email")
        behaviour = self.scripted(address)
        if behaviour == "disallowed_ip":
            return self._json({"error_status": 1, "error": "Disallowed IP 203.0.113.7"})
        if behaviour:
            return self.canned(behaviour)
        kind, value = self.unsubscribe(address)
        if kind == "error":
            return self._json({"error_status": 1, "error": value})
        status = "2" if kind == "already" else "1"
        return self._json({"error_status": "0", "ID_email": str(value), "status": status})

    def _xml(self, value, as_i4=False):
        text = xmlrpc.client.dumps((value,), methodresponse=True)
        if as_i4:
            text = text.replace("<int>", "<i4>").replace("</int>", "</i4>")
        return 200, "text/xml", text.encode()

    def handle_xmlrpc(self, body):
        params, method = xmlrpc.client.loads(body)
        self.calls.append(("xmlrpc", params))
        if method != "mailkit.email.unsubscribe":
            return self._xml("Unknown function")
        types_ok = (isinstance(params[0], int) and isinstance(params[1], str)
                    and isinstance(params[4], bool) and len(params) in (5, 6))
        if len(params) == 6:
            extra = params[5]
            types_ok = types_ok and extra.get("timeout") is True and isinstance(extra.get("timeout_days"), int)
        if not types_ok:
            return self._xml("Invalid parameters")
        if (str(params[0]), params[1]) != (self.client_id, self.client_md5):
            return self._xml("Unauthorized")
        address = str(params[2])
        behaviour = self.scripted(address)
        if behaviour == "disallowed_ip":
            return self._xml("Disallowed IP 203.0.113.7")
        if behaviour == "fault":
            return 200, "text/xml", xmlrpc.client.dumps(
                xmlrpc.client.Fault(500, "Unauthorized"), methodresponse=True).encode()
        if behaviour == "hostile":
            return 200, "text/xml", (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]>'
                                     b"<methodResponse><params><param><value><string>&lol;</string>"
                                     b"</value></param></params></methodResponse>")
        if behaviour:
            return self.canned(behaviour)
        kind, value = self.unsubscribe(address)
        if kind == "error":
            return self._xml(value)
        return self._xml(value, as_i4=kind != "nolist")
