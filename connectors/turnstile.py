"""Cloudflare Turnstile's siteverify: is this form submission from a person? Fails closed."""

import requests

from connectors.base import new_session
from connectors.deadline import deadline

TIMEOUT_SECONDS = 5.0


class Turnstile:
    """One site's secret; verify() asks siteverify about a form's `cf-turnstile-response` token."""

    def __init__(self, secret, url, timeout=TIMEOUT_SECONDS):
        self._secret, self.url, self.timeout = secret, url, timeout
        self.session = new_session(url)

    def verify(self, token, remote_ip):
        """True only when siteverify says success; a missing token, a refusal or no answer are False."""
        if not token or len(token) > 2048:  # Turnstile tokens are at most 2048 characters
            return False
        form = {"secret": self._secret, "response": token, "remoteip": remote_ip or ""}
        with deadline(self.timeout):
            try:
                response = self.session.post(self.url, data=form, timeout=(min(3.05, self.timeout), self.timeout),
                                             allow_redirects=False)
                answer = response.json()
            except (requests.RequestException, ValueError):
                return False
        return isinstance(answer, dict) and answer.get("success") is True
