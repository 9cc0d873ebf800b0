"""gunicorn settings for the gateway; each is read from the environment.

Threads (gthread) rather than eventlet: gunicorn 26 removed its eventlet worker. RPC clients are
made per thread on first use, after the fork, never in the master. The worker is gthread's, noting
how long each request waited for a thread, so that the app can shed load (gateway/shedding.py).
"""

import os

bind = os.environ.get("GATEWAY_BIND", "127.0.0.1:8000")
worker_class = "gateway.shedding.SheddingWorker"
workers = int(os.environ.get("GATEWAY_WORKERS", "2"))
threads = int(os.environ.get("GATEWAY_THREADS", "8"))
timeout = 30
graceful_timeout = 20
keepalive = 5
# gunicorn's own lines (and, when GATEWAY_ACCESS_LOG is set, one line per request) go through
# the platform's formatters, which withhold personal data and the tokens in addresses
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "shared.logs.JsonFormatter", "service": "gateway"},
        "text": {"()": "shared.logs.TextFormatter", "service": "gateway"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": os.environ.get("LOG_FORMAT", "json")}
    },
    "loggers": {
        "gunicorn.error": {"handlers": ["console"], "propagate": False},
        "gunicorn.access": {
            "handlers": ["console"],
            "propagate": False,
            "level": "INFO" if os.environ.get("GATEWAY_ACCESS_LOG") else "WARNING",
        },
    },
}
# no runtime control socket: containers run with a read-only file system
control_socket_disable = True
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# limits on what a client may send before the app sees it; the app refuses a request line over
# MAX_REQUEST_LINE (4094) itself, in JSON, and gunicorn (in HTML) only one over its maximum
limit_request_line = 8190
limit_request_fields = 50
limit_request_field_size = 8190
