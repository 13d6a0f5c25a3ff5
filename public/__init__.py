"""Public pages: the front page, the documentation, and (issue 10) the subscriber's unsubscribe pages."""


def init_app(app):
    from links.tokens import LinkSigner
    from public import front, links

    app.register_blueprint(front.bp)
    app.register_blueprint(links.bp)
    settings = app.config["SETTINGS"]
    if settings.link_secrets:  # decoded and checked once, here
        app.extensions["link_signer"] = LinkSigner(settings.link_secrets, settings.link_signing)
