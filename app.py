"""The application factory; `app` is what gunicorn and `flask` load."""

import os

from flask import Flask

import commands
import store
import webhooks
from dispatch import Dispatcher
from serving import guard
from settings import load_settings
from webhooks.logs import init_logging


def create_app(env=None):
    """Wire settings, the dispatcher, blueprints and CLI commands; no I/O beyond the instance folder."""
    app = Flask(__name__, instance_relative_config=True, template_folder="templates")
    settings = load_settings(env, app.instance_path)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.update(SETTINGS=settings, MAX_CONTENT_LENGTH=settings.max_content_length,
                      MAX_FORM_MEMORY_SIZE=settings.max_content_length)
    app.json.ensure_ascii = False  # JustClick's texts are Russian: keep them readable
    app.extensions["dispatcher"] = Dispatcher(settings)
    init_logging(settings)
    commands.init_app(app)
    store.init_app(app)
    webhooks.init_app(app)
    app.wsgi_app = guard(app, env)  # bodies read whole under size and time limits; OPTIONS in JSON
    return app


app = create_app()
