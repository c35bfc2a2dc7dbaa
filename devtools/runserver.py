"""``manage.py runserver`` for the demo, with a listen backlog for many customers at once.

Django's development server listens with a backlog of 10 connections
(``django.core.servers.basehttp.WSGIServer.request_queue_size``). With 32 clients opening a
connection per request, the kernel's accept queue overflowed and about 1 in 2,000
connections was reset (4 and 1 in two 60 s runs) (``python -m devtools.load`` against ``make demo``). 128 is the
kernel's usual ``somaxconn`` floor and what gunicorn uses by default (``backlog`` 2048 is
capped by somaxconn).

Usage: ``python -m devtools.runserver 127.0.0.1:8000 --noreload`` (arguments as runserver's).
"""

import os
import sys

LISTEN_BACKLOG = 128


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    from django.core.management import execute_from_command_line
    from django.core.servers import basehttp

    basehttp.WSGIServer.request_queue_size = LISTEN_BACKLOG
    execute_from_command_line(["manage.py", "runserver", *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
