"""WSGI entry point: ``gunicorn wsgi:app``."""

from hello import create_app

app = create_app()
