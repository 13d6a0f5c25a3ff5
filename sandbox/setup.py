"""Sandbox mode for a process: the simulators' settings in place of real vendor credentials, one shared
webhook token when none is configured, and a public form key when none is configured."""

import os
import secrets

from sandbox import environment, start_simulators

REAL_CREDENTIALS = ("JUSTCLICK_LOGIN", "JUSTCLICK_SECRET", "MAILKIT_CLIENT_ID", "MAILKIT_CLIENT_MD5")
TOKEN_FILE = "sandbox-token"
# Public by nature (it sits in a page's HTML) and it only reaches the simulators: a fixed, printed value lets
# the documentation's HTML form example work as pasted.
FORM_KEY = "sandbox-form-key"


def requested(env):
    """True when SANDBOX asks for the sandbox (1, true, yes, on)."""
    return env.get("SANDBOX", "").strip().lower() in ("1", "true", "yes", "on")


def shared_token(instance_path):
    """The sandbox's webhook token: made once, kept in the instance folder, the same for every process.

    Written to a private temporary file and linked into place, so a process starting at the same moment
    reads either nothing (and makes its own attempt, which loses the race) or the whole token.
    """
    path = os.path.join(instance_path, TOKEN_FILE)
    if not os.path.exists(path):
        os.makedirs(instance_path, exist_ok=True)
        temporary = f"{path}.{os.getpid()}"
        with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write(secrets.token_urlsafe(24))
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(temporary)
    with open(path) as f:
        return f.read().strip()


def first_token(env, instance_path, *names):
    """The first token of the first of `names` set in `env` (comma- or space-separated lists), else the
    sandbox's shared token: what the sandbox's banner and `flask sandbox-event` use."""
    for name in names:
        tokens = env.get(name, "").replace(",", " ").split()
        if tokens:
            return tokens[0]
    return shared_token(instance_path)


def sandbox_env(env, instance_path):
    """(environment, problems): with SANDBOX on and no real credentials, the simulators' settings (started
    in this process), a shared token when WEBHOOK_TOKENS is unset and FORM_KEY when FORM_KEYS is. Never
    together with real credentials."""
    if not requested(env):
        return env, []
    real = [name for name in REAL_CREDENTIALS if env.get(name, "").strip()]
    if real:
        return {**env, "SANDBOX": "0"}, [f"SANDBOX=1 cannot be on together with real credentials ({', '.join(real)} "
                                         "set): the sandbox is off; unset one or the other"]
    out = {**env, **environment(start_simulators(), env.get("MAILKIT_TRANSPORT", "json").strip().lower() or "json")}
    if not env.get("WEBHOOK_TOKENS", "").strip():
        out["WEBHOOK_TOKENS"] = shared_token(instance_path)
    if not env.get("FORM_KEYS", "").strip():
        out["FORM_KEYS"] = FORM_KEY
    for name in ("MAILKIT_EVENTS_TOKEN", "JUSTCLICK_EVENTS_TOKEN"):  # `flask sandbox-event` fires with it
        out[name] = first_token(out, instance_path, name, "WEBHOOK_TOKENS")
    return out, []
