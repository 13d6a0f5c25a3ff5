"""The application factory; `app` is what gunicorn and `flask` load."""

import os

from flask import Flask

import commands
import console
import delivery
import docsite
import i18n
import metrics
import pages
import public
import webhooks
from edge import limits
from edge.logs import init_logging
from sandbox.setup import sandbox_env
from serving import guard
from settings import load_settings


def create_app(env=None, docs_site=None):
    """Wire settings, the relay, blueprints and CLI commands; no I/O beyond the instance folder. `docs_site`:
    the built documentation folder /docs serves (default site/ beside mkdocs.yml)."""
    app = Flask(__name__, instance_relative_config=True, template_folder="templates")
    env, sandbox_problems = sandbox_env(os.environ if env is None else env, app.instance_path)
    settings = load_settings(env, app.instance_path, sandbox_problems)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(MAX_CONTENT_LENGTH=settings.max_content_length,
                      MAX_FORM_MEMORY_SIZE=settings.max_content_length,
                      DEFAULT_LOCALE=settings.default_locale)
    app.json.ensure_ascii = False  # JustClick's texts are Russian: keep them readable
    init_logging(settings)
    i18n.init_app(app)
    pages.init_app(app, settings)  # every page and the front page show the operator's brand
    if settings.sandbox:
        app.logger.warning("SANDBOX mode: deliveries go to built-in simulators of JustClick and Mailkit")
    relay = delivery.build_relay(settings, public.link_signer(settings), limits.CallerLimits(settings))
    app.extensions[delivery.EXTENSION] = relay  # for tests and the command line's one look-up (commands/)
    commands.init_app(app)
    webhooks.init_app(app, relay)
    public.init_app(app, relay)
    console.init_app(app, relay)
    metrics.init_app(app, relay)
    docsite.init_app(app, docs_site)
    limits.init_app(app, settings)  # behind the configured proxies, the client a limit counts
    app.wsgi_app = guard(app, settings)  # outermost: bodies whole under size and time limits; OPTIONS in JSON
    return app


app = create_app()
