"""OPTIONS in the service's JSON: the methods a route allows, or the whole server's for `OPTIONS *`.

Flask answers OPTIONS with an empty text/html body, and `OPTIONS *` (RFC 9110 section 9.3.7: a question
about the server itself) with 404.
"""

import json

from werkzeug.exceptions import HTTPException


class OptionsAnswer:
    """WSGI middleware: answer OPTIONS from the URL map; every other request goes to the app."""

    def __init__(self, app, url_map):
        self.app, self.url_map = app, url_map

    def allowed(self, environ):
        """The methods allowed at the request's path (every route's for `*`); empty for an unknown path."""
        if environ.get("PATH_INFO") == "*" or environ.get("RAW_URI") == "*":
            return sorted({method for rule in self.url_map.iter_rules() for method in rule.methods})
        try:
            return sorted(self.url_map.bind_to_environ(environ).allowed_methods())
        except HTTPException:
            return []

    def __call__(self, environ, start_response):
        methods = self.allowed(environ) if environ.get("REQUEST_METHOD") == "OPTIONS" else []
        if not methods:
            return self.app(environ, start_response)  # unknown paths get the app's JSON 404
        body = json.dumps({"status": "ok", "allow": methods}).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Allow", ", ".join(methods)),
                                  ("Content-Length", str(len(body)))])
        return [body]
