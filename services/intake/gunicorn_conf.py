"""gunicorn settings for the intake API: ``gunicorn -c services/intake/gunicorn_conf.py``."""

from shared.gunicorn_base import *  # noqa: F403 - gunicorn reads settings as module names
from shared.gunicorn_base import access_log_format_for, bind_address

wsgi_app = "services.intake.entrypoints.app:create_app()"
bind = bind_address("INTAKE_PORT", 8001)
access_log_format = access_log_format_for("intake")
