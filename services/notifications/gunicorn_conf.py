"""gunicorn settings for the notifications API (gunicorn -c services/notifications/gunicorn_conf.py)."""

import os

wsgi_app = "services.notifications.entrypoints.app:create_app()"
bind = f"{os.environ.get('BIND_HOST', '127.0.0.1')}:{os.environ.get('NOTIFICATIONS_PORT', '8003')}"
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# A request never hangs past this: the store's own timeouts are shorter (see shared.mongo).
timeout = 30
graceful_timeout = 20
keepalive = 5
accesslog = "-"
access_log_format = '{"time":"%(t)s","service":"notifications","method":"%(m)s","path":"%(U)s","status":%(s)s,"duration_ms":%(M)s,"correlation_id":"%({x-correlation-id}o)s"}'
errorlog = "-"
# Each worker builds its own app after the fork: no connection is shared across processes.
preload_app = False
