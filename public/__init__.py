"""Public pages: the front page, the documentation, and (issue 10) the subscriber's unsubscribe pages."""


def init_app(app):
    from public import front

    app.register_blueprint(front.bp)
