"""The application factory; `app` is what gunicorn and `flask` load."""

import os

from flask import Flask

import commands
import delivery
import metrics
import webhooks
from settings import load_settings
from webhooks.logs import init_logging


def create_app(env=None):
    """Wire settings, the delivery service, blueprints and CLI commands; no I/O beyond the instance folder."""
    app = Flask(__name__, instance_relative_config=True, template_folder="templates")
    settings = load_settings(env, app.instance_path)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(SETTINGS=settings, MAX_CONTENT_LENGTH=settings.max_content_length,
                      MAX_FORM_MEMORY_SIZE=settings.max_content_length)
    app.json.ensure_ascii = False  # JustClick's texts are Russian: keep them readable
    init_logging(settings)
    delivery.init_app(app)
    commands.init_app(app)
    webhooks.init_app(app)
    metrics.init_app(app)
    return app


app = create_app()
