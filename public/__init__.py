"""Public pages: the front page and (issue 10) the subscriber's unsubscribe pages (the documentation site is
docsite/)."""


def link_signer(settings):
    """The signer of LINK_SECRETS (decoded and checked once, here), or None when none is set."""
    from links.tokens import LinkSigner

    return LinkSigner(settings.link_secrets, settings.link_signing) if settings.link_secrets else None


def init_app(app, relay):
    from public import front, links

    app.register_blueprint(front.make_blueprint(relay.operations, relay.settings))
    app.register_blueprint(links.make_blueprint(relay))
