"""A throwaway certificate authority and a server certificate for 127.0.0.1, made at run time.

The vendors' APIs are HTTPS-only, so the benchmark also runs against a TLS upstream. Every contender
trusts the throwaway CA through REQUESTS_CA_BUNDLE (requests and the service's transport both read it).
Made with the `openssl` command line (the `cryptography` package is not a dependency of the project):
RSA 2048, what most HTTPS APIs still serve, valid for two days.
"""

import os
import ssl
import subprocess
from dataclasses import dataclass

SERVER_EXTENSIONS = """basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


@dataclass(frozen=True)
class Certs:
    """Paths of the CA certificate (what clients trust) and of the server's certificate and key."""

    ca: str
    cert: str
    key: str

    def client_env(self):
        """What makes a contender trust the throwaway CA."""
        return {"REQUESTS_CA_BUNDLE": self.ca}

    def server_context(self):
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self):
        return ssl.create_default_context(cafile=self.ca)


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certs(directory):
    """A new CA and a server certificate for 127.0.0.1 signed by it, written under `directory`."""
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "server.ext"), "w") as f:
        f.write(SERVER_EXTENSIONS)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=unsub-bench throwaway CA", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-keyout", "ca.key", "-out", "ca.pem",
             cwd=directory)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key",
             "-out", "server.csr", cwd=directory)
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-days", "2", "-extfile", "server.ext", "-out", "server.pem", cwd=directory)
    return Certs(*(os.path.join(directory, name) for name in ("ca.pem", "server.pem", "server.key")))
