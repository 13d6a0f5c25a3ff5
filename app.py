"""The application factory; `app` is what gunicorn and `flask` load."""

import os

from flask import Flask

import commands
import console
import delivery
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


def create_app(env=None):
    """Wire settings, the delivery service, blueprints and CLI commands; no I/O beyond the instance folder."""
    app = Flask(__name__, instance_relative_config=True, template_folder="templates")
    env, sandbox_problems = sandbox_env(os.environ if env is None else env, app.instance_path)
    settings = load_settings(env, app.instance_path, sandbox_problems)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(SETTINGS=settings, MAX_CONTENT_LENGTH=settings.max_content_length,
                      MAX_FORM_MEMORY_SIZE=settings.max_content_length)
    app.config["DEFAULT_LOCALE"] = settings.default_locale
    app.json.ensure_ascii = False  # JustClick's texts are Russian: keep them readable
    init_logging(settings)
    i18n.init_app(app)
    pages.init_app(app, settings)  # every page and the front page show the operator's brand
    if settings.sandbox:
        app.logger.warning("SANDBOX mode: deliveries go to built-in simulators of JustClick and Mailkit")
    delivery.init_app(app)
    commands.init_app(app)
    webhooks.init_app(app)
    public.init_app(app)
    console.init_app(app)
    metrics.init_app(app)
    limits.init_app(app)  # it puts the rate limits on the views every blueprint registered
    app.wsgi_app = guard(app, settings)  # outermost: bodies whole under size and time limits; OPTIONS in JSON
    return app


app = create_app()
