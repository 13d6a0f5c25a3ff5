"""How the service meets the network: the gunicorn worker, request bodies, OPTIONS and the access log.

`guard(app, settings)` wraps the Flask app's WSGI callable: OPTIONS answered in JSON, then every request body
read whole, under MAX_CONTENT_LENGTH and BODY_TIMEOUT_SECONDS, before Flask sees it.

gunicorn's master imports this package (the worker and logger classes) before its workers monkey-patch:
import nothing here at module level that opens sockets or picks a wait strategy (psycopg, urllib3, the app).
"""

import json


def error_body(message, status="invalid"):
    """The service's one error shape, as bytes: {"status": "invalid" | "error", "message": ...}."""
    return json.dumps({"status": status, "message": message}).encode()


def guard(app, settings):
    """The app's WSGI callable behind the body limits (settings.py's) and the OPTIONS answer."""
    from serving.body import BodyLimits
    from serving.options import OptionsAnswer
    limited = BodyLimits(app.wsgi_app, settings.max_content_length, settings.body_timeout_seconds)
    return OptionsAnswer(limited, app.url_map)
