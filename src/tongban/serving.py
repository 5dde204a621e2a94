"""``tongban serve``: gunicorn in front of the WSGI application."""

from __future__ import annotations

import argparse
import os
import sys


def serve(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="tongban serve")
    parser.add_argument("--host", default=os.environ.get("TONGBAN_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("TONGBAN_PORT", "8001")))
    parser.add_argument(
        "--workers", type=int, default=int(os.environ.get("TONGBAN_WEB_WORKERS", "2"))
    )
    parser.add_argument(
        "--threads", type=int, default=int(os.environ.get("TONGBAN_WEB_THREADS", "4"))
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tongban.settings")
    gunicorn_args = [
        sys.executable,
        "-m",
        "gunicorn",
        "tongban.wsgi:application",
        "--bind",
        f"{args.host}:{args.port}",
        "--workers",
        str(args.workers),
        "--threads",
        str(args.threads),
        "--worker-class",
        "gthread",
        "--timeout",
        "60",
        "--graceful-timeout",
        "5",
        "--access-logfile",
        "-" if os.environ.get("TONGBAN_ACCESS_LOG") == "1" else "/dev/null",
        "--error-logfile",
        "-",
        "--log-level",
        "warning",
    ]
    os.execv(sys.executable, gunicorn_args)  # noqa: S606 — replaces this process, no shell
