"""Public pages: the front page and (issue 10) the subscriber's unsubscribe pages (the documentation site is
docsite/)."""


def init_app(app):
    from links.tokens import LinkSigner
    from public import front, links

    app.register_blueprint(front.bp)
    app.register_blueprint(links.bp)
    settings = app.config["SETTINGS"]
    if settings.link_secrets:  # decoded and checked once, here
        app.extensions["link_signer"] = LinkSigner(settings.link_secrets, settings.link_signing)
