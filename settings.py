"""Typed settings, read once from the environment by create_app()."""

import os
from dataclasses import dataclass, field, fields

from connectors import registry
from connectors.vendor import check_url

SECRET = {"secret": True}


def _split(value):
    return tuple(part for part in value.replace(",", " ").split() if part)


@dataclass(frozen=True)
class Settings:
    """Everything the service reads from its environment; secrets stay out of repr()."""

    vendors: dict = field(default_factory=dict)  # vendor name -> that vendor's own frozen config
    upstream_timeout: float = 10.0
    webhook_tokens: tuple = field(default=(), repr=False, metadata=SECRET)
    webhook_secret: tuple = field(default=(), repr=False, metadata=SECRET)
    typeform_secret: str = field(default="", repr=False, metadata=SECRET)
    tally_secret: str = field(default="", repr=False, metadata=SECRET)
    max_content_length: int = 1024 * 1024
    success_url: str = ""
    failure_url: str = ""
    allowed_redirect_hosts: tuple = ()
    database_url: str = ""
    worker_concurrency: int = 16
    retry_base_seconds: float = 30.0
    retry_max_age_seconds: float = 48 * 3600.0
    dedup_window_seconds: float = 600.0
    pending_alert_seconds: float = 12 * 3600.0
    auto_migrate: bool = True
    breaker_failures: int = 5
    max_rates: dict = field(default_factory=dict)  # destination -> deliveries per second (0: no limit)
    metrics_token: str = field(default="", repr=False, metadata=SECRET)  # empty: no /metrics (404)
    metrics_port: int = 0  # the worker's own metrics port; 0: none
    problems: tuple = ()

    def vendor(self, name):
        """One vendor's configuration (see connectors/registry.py)."""
        return self.vendors[name]

    @property
    def auth_methods(self):
        """Names of the webhook authentication methods that are switched on."""
        methods = {"token": self.webhook_tokens, "standard_webhooks": self.webhook_secret,
                   "typeform": self.typeform_secret, "tally": self.tally_secret}
        return [name for name, value in methods.items() if value]

    @property
    def secrets(self):
        """Every configured secret value, for scrubbing text before it is shown."""
        values = []
        for f in fields(self):
            if f.metadata.get("secret"):
                value = getattr(self, f.name)
                values.extend(value if isinstance(value, tuple) else [value])
        values.extend(registry.secrets(self.vendors))
        return tuple(v for v in values if v)


def _number(env, name, default, cast, problems, low=None, high=None):
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = cast(raw)
    except ValueError:
        problems.append(f"{name} must be a number, got {raw!r}")
        return default
    if (low is not None and value < low) or (high is not None and value > high):
        problems.append(f"{name} must be between {low} and {high}, got {raw}")
        return default
    return value


def _url(env, name, problems):
    return check_url(name, env.get(name, "").strip(), problems)


def database_url(env, instance_path):
    """DATABASE_URL with Heroku's postgres:// accepted; SQLite under the instance folder by default."""
    url = env.get("DATABASE_URL", "").strip()
    if not url:
        return "sqlite:///" + os.path.join(instance_path, "unsub-relay.sqlite3")
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def load_settings(env=None, instance_path="instance"):
    """Read and check the environment; malformed values are collected in `problems`."""
    env = os.environ if env is None else env
    problems = []
    vendors = registry.read_configs(env, problems)
    secrets = _split(env.get("WEBHOOK_SECRET", ""))
    if any(not s.startswith("whsec_") for s in secrets):
        problems.append("WEBHOOK_SECRET must be one or more whsec_... secrets")
    return Settings(
        vendors=vendors,
        upstream_timeout=_number(env, "UPSTREAM_TIMEOUT", 10.0, float, problems, 0.1, 25),
        webhook_tokens=_split(env.get("WEBHOOK_TOKENS", "")),
        webhook_secret=secrets,
        typeform_secret=env.get("TYPEFORM_SECRET", "").strip(),
        tally_secret=env.get("TALLY_SECRET", "").strip(),
        max_content_length=_number(env, "MAX_CONTENT_LENGTH", 1024 * 1024, int, problems, 1024),
        success_url=_url(env, "UNSUBSCRIBE_SUCCESS_URL", problems),
        failure_url=_url(env, "UNSUBSCRIBE_FAILURE_URL", problems),
        allowed_redirect_hosts=tuple(h.lower() for h in _split(env.get("ALLOWED_REDIRECT_HOSTS", ""))),
        database_url=database_url(env, instance_path),
        worker_concurrency=_number(env, "WORKER_CONCURRENCY", 16, int, problems, 1, 256),
        retry_base_seconds=_number(env, "RETRY_BASE_SECONDS", 30.0, float, problems, 0.001),
        retry_max_age_seconds=_number(env, "RETRY_MAX_AGE_SECONDS", 48 * 3600.0, float, problems, 1),
        dedup_window_seconds=_number(env, "DEDUP_WINDOW_SECONDS", 600.0, float, problems, 0),
        pending_alert_seconds=_number(env, "PENDING_ALERT_SECONDS", 12 * 3600.0, float, problems, 1, 86399),
        breaker_failures=_number(env, "BREAKER_FAILURES", 5, int, problems, 1, 1000),
        max_rates={v.name: _number(env, v.rate_variable, v.default_rate, float, problems, 0, 10000)
                   for v in registry.VENDORS},
        metrics_token=env.get("METRICS_TOKEN", "").strip(),
        metrics_port=_number(env, "METRICS_PORT", 0, int, problems, 1, 65535),
        auto_migrate=env.get("AUTO_MIGRATE", "1").strip().lower() not in ("0", "false", "no", "off"),
        problems=tuple(problems),
    )
