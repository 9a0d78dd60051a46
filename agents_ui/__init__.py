"""Everything a person sees: pages, templates and (later) Socket.IO namespaces."""

from flask import Flask


def init_app(app: Flask) -> None:
    from agents_ui.web import bp

    app.register_blueprint(bp)
