"""Cloudflare Turnstile's siteverify: is this form submission from a person? Fails closed."""

from urllib.parse import urlencode

from connectors.transport import Transport, TransportError

TIMEOUT_SECONDS = 5.0


class Turnstile:
    """One site's secret; verify() asks siteverify about a form's `cf-turnstile-response` token."""

    def __init__(self, secret, url, timeout=TIMEOUT_SECONDS):
        self._secret, self.url = secret, url
        self.http = Transport(url, min(3.05, timeout), timeout, timeout)

    def verify(self, token, remote_ip):
        """True only when siteverify says success; a missing token, a refusal or no answer are False."""
        if not token or len(token) > 2048:  # Turnstile tokens are at most 2048 characters
            return False
        form = urlencode({"secret": self._secret, "response": token, "remoteip": remote_ip or ""})
        try:
            answer = self.http.post(form.encode("ascii"), "application/x-www-form-urlencoded").json()
        except (TransportError, ValueError):
            return False
        return isinstance(answer, dict) and answer.get("success") is True
