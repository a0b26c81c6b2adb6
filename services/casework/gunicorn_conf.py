"""gunicorn settings for the casework API: ``gunicorn -c services/casework/gunicorn_conf.py``."""

from shared.gunicorn_base import *  # noqa: F403 - gunicorn reads settings as module names
from shared.gunicorn_base import access_log_format_for, bind_address

wsgi_app = "services.casework.entrypoints.app:create_app()"
bind = bind_address("CASEWORK_PORT", 8002)
access_log_format = access_log_format_for("casework")
