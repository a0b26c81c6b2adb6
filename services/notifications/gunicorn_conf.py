"""gunicorn settings for the notifications API: ``gunicorn -c services/notifications/gunicorn_conf.py``."""

from shared.gunicorn_base import *  # noqa: F403 - gunicorn reads settings as module names
from shared.gunicorn_base import access_log_format_for, bind_address

wsgi_app = "services.notifications.entrypoints.app:create_app()"
bind = bind_address("NOTIFICATIONS_PORT", 8003)
access_log_format = access_log_format_for("notifications")
