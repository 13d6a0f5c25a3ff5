"""The suite's JustClick and Mailkit peers: the sandbox's simulators, with the suite's own credentials
and every request recorded (tests read `requests` and `calls`, and build account state with subscribe())."""

from sandbox.justclick import JustClickSimulator, md5, php_urlencode
from sandbox.mailkit import MailkitSimulator
from sandbox.server import SimulatorServer as FakeServer

__all__ = ["FakeServer", "JustClickFake", "MailkitFake", "md5", "php_urlencode"]


class JustClickFake(JustClickSimulator):
    def __init__(self, login="acme", secret="jc-secret-key"):
        super().__init__(login, secret)


class MailkitFake(MailkitSimulator):
    def __init__(self, client_id="12345", client_md5="mk-md5-secret"):
        super().__init__(client_id, client_md5)
