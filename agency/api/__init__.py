"""The /api/v1 JSON API."""


def init_app(app):
    pass
