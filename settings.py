"""Typed settings, read once from the environment by create_app()."""

import os
from dataclasses import dataclass, field, fields
from typing import Any

from connectors import registry
from connectors.vendor import check_url
from schemas.events import EventSettings, read_event_settings

SECRET = {"secret": True}
TURNSTILE_URL = "https://challenges.cloudflare.com/turnstile/v0/siteverify"


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
    console_password: str = field(default="", repr=False, metadata=SECRET)  # the console is off without it
    secret_key: str = field(default="", repr=False, metadata=SECRET)  # signs the console's session cookie
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
    alert_urls: tuple = field(default=(), repr=False, metadata=SECRET)  # Apprise URLs hold tokens
    alert_repeat_seconds: float = 3600.0
    auto_migrate: bool = True
    body_timeout_seconds: float = 10.0
    link_secrets: tuple = field(default=(), repr=False, metadata=SECRET)  # every usable one verifies
    link_signing: bool = True  # False when the first (signing) secret was refused: links verify, none is made
    public_url: str = ""
    default_locale: str = "en"
    form_keys: tuple = field(default=(), repr=False, metadata=SECRET)
    honeypot_field: str = "website"
    turnstile_secret: str = field(default="", repr=False, metadata=SECRET)
    turnstile_verify_url: str = TURNSTILE_URL
    public_rate_limit: str = "10 per minute;50 per day"
    hook_rate_limit: str = "600 per minute"
    rate_limit_storage_uri: str = "memory://"
    trusted_proxy_hops: int = 1
    sandbox: bool = False
    breaker_failures: int = 5  # 0: the breaker never opens (the sandbox: a marker's failure is its address's)
    max_rates: dict = field(default_factory=dict)  # destination -> deliveries per second (0: no limit)
    rate_wait_seconds: float = 10.0  # how long a webhook over the rate waits for its turn before it is queued
    confirm_after_seconds: float = 60.0  # read back an accepted opt-out this long after; 0: never
    confirm_resends: int = 2  # sends again of a contact the vendor still lists as subscribed, then failed
    metrics_token: str = field(default="", repr=False, metadata=SECRET)  # empty: no /metrics (404)
    metrics_port: int = 0  # the worker's own metrics port; 0: none
    brand_name: str = ""  # who sends the mails, on every page a subscriber sees and in alerts
    brand_logo_url: str = ""  # https only: the pages' Content-Security-Policy allows that one origin
    brand_contact: str = ""  # an email address (shown as a mailto: link) or an https URL
    events: Any = field(default_factory=EventSettings)  # opt-outs made at a vendor (delivery/events.py)
    problems: tuple = ()

    def vendor(self, name):
        """One vendor's configuration (see connectors/registry.py)."""
        return self.vendors[name]

    @property
    def auth_methods(self):
        """Names of the webhook authentication methods that are switched on."""
        methods = {"token": self.webhook_tokens, "standard_webhooks": self.webhook_secret,
                   "typeform": self.typeform_secret, "tally": self.tally_secret, "form_key": self.form_keys}
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
        values.extend(self.events.secrets)
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


def _limit(env, name, default, problems):
    """A rate limit in the limits library's notation ("10 per minute;50 per day"), checked here once."""
    from limits import parse_many

    value = env.get(name, "").strip() or default
    try:
        parse_many(value)
    except ValueError:
        problems.append(f"{name} must read like '10 per minute;50 per day', got {value!r}")
        return default
    return value


def _link_secrets(env, problems):
    """(usable secrets, whether the first one signs): LINK_SECRETS, space-separated (a comma may be part of
    a secret), each checked once here. A refused secret is named in problems and left out, and the others
    still verify: one typo in a rotation must not turn off every link already mailed. New links are made
    only with the first secret, so when that one is refused none is made until it is fixed."""
    from links.tokens import parse_secrets

    usable, signing = [], True
    for number, secret in enumerate(env.get("LINK_SECRETS", "").split(), 1):
        try:
            parse_secrets([secret], number)
        except ValueError as exc:  # the message names LINK_SECRETS, the secret's number and what is wrong
            signing = signing and number > 1
            problems.append(f"{exc}; {'no new link is made' if number == 1 else 'it is left out'} until it "
                            "is fixed (links signed with the other secrets still work)")
            continue
        usable.append(secret)
    return tuple(usable), signing and bool(usable)


def _locale(env, problems):
    from i18n import LOCALES

    value = env.get("DEFAULT_LOCALE", "").strip().lower() or "en"
    if value not in LOCALES:
        problems.append(f"DEFAULT_LOCALE must be one of {', '.join(LOCALES)}, got {value!r}")
        return "en"
    return value


def _storage(env, problems):
    from limitstorage import is_redis

    value = env.get("RATE_LIMIT_STORAGE_URI", "").strip() or "memory://"
    if not (value.startswith("memory://") or is_redis(value)):
        problems.append("RATE_LIMIT_STORAGE_URI must be memory:// or redis://...")
        return "memory://"
    return value


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


def _console_secret(env, name, shortest, problems):
    """A console secret, or "" (the console stays off) when it is shorter than `shortest` characters."""
    value = env.get(name, "").strip()
    if value and len(value) < shortest:
        problems.append(f"{name} must be at least {shortest} characters; the console stays off")
        return ""
    return value


ANSWER_WITHIN = 25.0  # seconds: a webhook's answer, however long its turn and its call, before Zapier's 30


def _rate_wait(env, problems):
    """RATE_WAIT_SECONDS (0 to 20), and never so long that the wait and one upstream call together pass
    ANSWER_WITHIN: a sender that gives up at 30 s would send again."""
    wait = _number(env, "RATE_WAIT_SECONDS", 10.0, float, problems, 0, 20)
    timeout = _number(env, "UPSTREAM_TIMEOUT", 10.0, float, [], 0.1, 25)
    if wait + timeout > ANSWER_WITHIN:
        problems.append(f"RATE_WAIT_SECONDS ({wait:g}) and UPSTREAM_TIMEOUT ({timeout:g}) together must stay "
                        f"within {ANSWER_WITHIN:g} s (a sender gives up at 30); waiting "
                        f"{max(0.0, ANSWER_WITHIN - timeout):g} s")
        wait = max(0.0, ANSWER_WITHIN - timeout)
    return wait


def _sandbox(env):
    return env.get("SANDBOX", "").strip().lower() in ("1", "true", "yes", "on")


def _delivery(env, problems, instance_path):
    """The ledger, retries, outages and vendors."""
    return dict(
        vendors=registry.read_configs(env, problems),
        upstream_timeout=_number(env, "UPSTREAM_TIMEOUT", 10.0, float, problems, 0.1, 25),
        database_url=database_url(env, instance_path),
        worker_concurrency=_number(env, "WORKER_CONCURRENCY", 16, int, problems, 1, 256),
        retry_base_seconds=_number(env, "RETRY_BASE_SECONDS", 30.0, float, problems, 0.001),
        retry_max_age_seconds=_number(env, "RETRY_MAX_AGE_SECONDS", 48 * 3600.0, float, problems, 1),
        dedup_window_seconds=_number(env, "DEDUP_WINDOW_SECONDS", 600.0, float, problems, 0),
        # The sandbox's `+down` and `+ratelimit` fail one address, not a vendor: its breaker never opens, so
        # a newcomer walking the sandbox's table gets each row's answer (and a live breaker stays untouched).
        breaker_failures=0 if _sandbox(env) else _number(env, "BREAKER_FAILURES", 5, int, problems, 1, 1000),
        max_rates={v.name: _number(env, v.rate_variable, v.default_rate, float, problems, 0, 10000)
                   for v in registry.VENDORS},
        rate_wait_seconds=_rate_wait(env, problems),
        confirm_after_seconds=_number(env, "CONFIRM_AFTER_SECONDS", 60.0, float, problems, 0, 86400),
        confirm_resends=_number(env, "CONFIRM_RESENDS", 2, int, problems, 0, 10),
        sandbox=_sandbox(env),
        auto_migrate=env.get("AUTO_MIGRATE", "1").strip().lower() not in ("0", "false", "no", "off"),
    )


def _webhooks(env, problems):
    """Who may call the hooks, how big and slow a body may be, where people are sent afterwards."""
    secrets = _split(env.get("WEBHOOK_SECRET", ""))
    if any(not s.startswith("whsec_") for s in secrets):
        problems.append("WEBHOOK_SECRET must be one or more whsec_... secrets")
    return dict(
        webhook_tokens=_split(env.get("WEBHOOK_TOKENS", "")),
        webhook_secret=secrets,
        typeform_secret=env.get("TYPEFORM_SECRET", "").strip(),
        tally_secret=env.get("TALLY_SECRET", "").strip(),
        max_content_length=_number(env, "MAX_CONTENT_LENGTH", 1024 * 1024, int, problems, 1024),
        # A sender posts its body in milliseconds; Zapier gives a whole step 30 s.
        body_timeout_seconds=_number(env, "BODY_TIMEOUT_SECONDS", 10.0, float, problems, 0.5, 25),
        success_url=_url(env, "UNSUBSCRIBE_SUCCESS_URL", problems),
        failure_url=_url(env, "UNSUBSCRIBE_FAILURE_URL", problems),
        allowed_redirect_hosts=tuple(h.lower() for h in _split(env.get("ALLOWED_REDIRECT_HOSTS", ""))),
    )


def _public(env, problems):
    """Signed links, public form keys, bot checks, rate limits and the pages' language."""
    link_secrets, link_signing = _link_secrets(env, problems)
    return dict(
        link_secrets=link_secrets, link_signing=link_signing,
        public_url=_url(env, "PUBLIC_URL", problems),
        default_locale=_locale(env, problems),
        form_keys=_split(env.get("FORM_KEYS", "")),
        honeypot_field=env.get("HONEYPOT_FIELD", "").strip() or "website",
        turnstile_secret=env.get("TURNSTILE_SECRET", "").strip(),
        turnstile_verify_url=_url(env, "TURNSTILE_VERIFY_URL", problems) or TURNSTILE_URL,
        public_rate_limit=_limit(env, "PUBLIC_RATE_LIMIT", "10 per minute;50 per day", problems),
        hook_rate_limit=_limit(env, "HOOK_RATE_LIMIT", "600 per minute", problems),
        rate_limit_storage_uri=_storage(env, problems),
        trusted_proxy_hops=_number(env, "TRUSTED_PROXY_HOPS", 1, int, problems, 0, 10),
    )


def _operator(env, problems):
    """The console, alerts and metrics."""
    return dict(
        console_password=_console_secret(env, "CONSOLE_PASSWORD", 12, problems),
        secret_key=_console_secret(env, "SECRET_KEY", 32, problems),
        pending_alert_seconds=_number(env, "PENDING_ALERT_SECONDS", 12 * 3600.0, float, problems, 1, 86399),
        alert_urls=tuple(env.get("ALERT_URLS", "").split()),  # spaces only: an Apprise URL may hold commas
        alert_repeat_seconds=_number(env, "ALERT_REPEAT_SECONDS", 3600.0, float, problems, 1, 7 * 86400),
        metrics_token=env.get("METRICS_TOKEN", "").strip(),
        metrics_port=_number(env, "METRICS_PORT", 0, int, problems, 1, 65535),
    )


def _brand(env, problems):
    """BRAND_NAME, BRAND_LOGO_URL, BRAND_CONTACT: who sends the mails, on every page a subscriber sees and in
    alerts (checked in pages.py, where they are shown)."""
    from pages import check_brand

    name, logo, contact = check_brand(env.get("BRAND_NAME", "").strip(),
                                      env.get("BRAND_LOGO_URL", "").strip(),
                                      env.get("BRAND_CONTACT", "").strip(), problems)
    return dict(brand_name=name, brand_logo_url=logo, brand_contact=contact)


def load_settings(env=None, instance_path="instance", problems=()):
    """Read and check the environment; malformed values are collected in `problems`."""
    env = os.environ if env is None else env
    problems = list(problems)
    values = {**_delivery(env, problems, instance_path), **_webhooks(env, problems), **_public(env, problems),
              **_operator(env, problems), **_brand(env, problems),
              "events": read_event_settings(env, problems, _number)}
    return Settings(**values, problems=tuple(problems))
