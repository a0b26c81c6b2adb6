"""gunicorn settings every Sportello API shares; each service's ``gunicorn_conf.py`` adds its own.

gunicorn reads module-level names as settings, so this module is star-imported there.
"""

from __future__ import annotations

import gc
import os
from typing import Any

workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# A request never hangs past this: the store's own timeouts are shorter (see shared.mongo).
timeout = 30
graceful_timeout = 20
keepalive = 5
accesslog = "-"
errorlog = "-"
# Each worker builds its own app after the fork: no connection is shared across processes.
preload_app = False


def bind_address(port_variable: str, default_port: int) -> str:
    """``host:port`` from ``BIND_HOST`` and the service's port variable."""
    return (
        f"{os.environ.get('BIND_HOST', '127.0.0.1')}:{os.environ.get(port_variable, default_port)}"
    )


def access_log_format_for(service: str) -> str:
    """One JSON line per request, with the correlation id the app put in the response."""
    return (
        '{"time":"%(t)s","service":"' + service + '","method":"%(m)s","path":"%(U)s",'
        '"status":%(s)s,"duration_ms":%(M)s,"correlation_id":"%({x-correlation-id}o)s"}'
    )


def post_worker_init(_worker: Any) -> None:
    """Move what the worker built at start (modules, the app, its schemas) out of the garbage
    collector's sight (``gc.freeze``; start-up garbage collected first, not kept): a full
    collection then walks only what requests left behind. Unfrozen, one request in about 190
    paid for a full walk of some 100,000 objects, 20–84 ms (``python -m bench.gc_pauses``)."""
    gc.collect()
    gc.freeze()


def child_exit(_server: Any, worker: Any) -> None:
    """Tell prometheus_client a worker is gone, so its live gauges stop counting."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
