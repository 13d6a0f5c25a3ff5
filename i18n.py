"""Pages in the subscriber's language: English, Russian or Czech from Accept-Language (Flask-Babel).

The message catalogues are compiled from translations/<locale>/LC_MESSAGES/messages.po when the app is
created, with Babel's own compiler, into the instance folder (gitignored, already writable: the SQLite ledger
lives there). Why at start rather than a build step: the PaaS builds (`pip install`) have no hook for a
`pybabel compile`, and a .mo committed or built separately can drift from its .po; compiling all three takes
a few milliseconds, and a .mo is only rewritten when its bytes change, atomically (os.replace), so gunicorn
workers starting together never read half a file. JSON answers do not go through here: they stay English.
"""

import os
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import has_request_context, request
from flask_babel import Babel, get_locale

LOCALES = ("en", "ru", "cs")  # English is the source language: its text is the msgids themselves
SOURCE_DIR = Path(__file__).resolve().parent / "translations"


def compile_catalogues(source_dir, target_dir):
    """Compile every <locale>/LC_MESSAGES/messages.po under source_dir; return the locales rewritten."""
    rewritten = []
    for po_path in sorted(Path(source_dir).glob("*/LC_MESSAGES/messages.po")):
        locale = po_path.parts[-3]
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=locale)
        compiled = BytesIO()
        write_mo(compiled, catalog, use_fuzzy=False)  # a fuzzy (unreviewed) translation falls back to English
        mo_path = Path(target_dir) / locale / "LC_MESSAGES" / "messages.mo"
        if mo_path.exists() and mo_path.read_bytes() == compiled.getvalue():
            continue
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        partial = mo_path.with_name(f".messages.mo.{os.getpid()}")
        partial.write_bytes(compiled.getvalue())
        os.replace(partial, mo_path)
        rewritten.append(locale)
    return rewritten


def select_locale():
    """The best of en/ru/cs for this request's Accept-Language; None (DEFAULT_LOCALE) when none fits."""
    if not has_request_context():
        return None
    return request.accept_languages.best_match(LOCALES)


def init_app(app):
    """Compile the catalogues and install Flask-Babel; DEFAULT_LOCALE comes from app.config (default en)."""
    default_locale = app.config.get("DEFAULT_LOCALE") or "en"
    if default_locale not in LOCALES:
        raise ValueError(f"DEFAULT_LOCALE must be one of {', '.join(LOCALES)}")
    compiled_dir = Path(app.instance_path) / "translations"
    compile_catalogues(SOURCE_DIR, compiled_dir)
    app.config.update(BABEL_DEFAULT_LOCALE=default_locale, BABEL_TRANSLATION_DIRECTORIES=str(compiled_dir))
    Babel(app, locale_selector=select_locale)
    app.context_processor(lambda: {"page_lang": str(get_locale() or default_locale)})
