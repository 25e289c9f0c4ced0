"""What every fake network shares: a real HTTP server on loopback, in a thread."""

from __future__ import annotations

import threading
from typing import Self

from werkzeug.serving import WSGIRequestHandler, make_server


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:  # the tests assert on requests instead
        pass


class LoopbackServer:
    """Mixed into a fake: ``start()``/``stop()`` (or ``with``), ``.url``. The fake gives
    ``_wsgi`` (its WSGI app) and ``_stopping`` (an Event set on stop, which wakes the
    answers it holds back on purpose)."""

    _server = None
    _thread: threading.Thread | None = None
    _stopping: threading.Event

    def start(self) -> Self:
        self._stopping.clear()
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True,
                                   request_handler=QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        kwargs={"poll_interval": 0.05})  # quick stop()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_port}"
