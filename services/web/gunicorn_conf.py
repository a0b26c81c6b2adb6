"""gunicorn settings for the web app: ``gunicorn -c services/web/gunicorn_conf.py``."""

from shared.gunicorn_base import *  # noqa: F403 - gunicorn reads settings as module names
from shared.gunicorn_base import access_log_format_for, bind_address

wsgi_app = "services.web.entrypoints.app:create_app()"
bind = bind_address("WEB_PORT", 8000)
access_log_format = access_log_format_for("web")
