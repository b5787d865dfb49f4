"""A TCP proxy a test puts between the app and a real server (PostgreSQL, the S3 server) to cut the line.

``cut()`` drops every open connection and refuses new ones (the listening socket is closed);
``restore()`` listens again on the same port. ``cut_after_bytes`` cuts by itself once that many bytes
went from the clients to the server, i.e. in the middle of a transfer.
"""
from __future__ import annotations

import socket
import threading
from typing import Iterator

import pytest

__all__ = ["TcpProxy", "tcp_proxy"]


class TcpProxy:
    """Forward 127.0.0.1:``port`` to ``target``, one pair of threads per connection."""

    def __init__(self, target_host: str, target_port: int, cut_after_bytes: int | None = None) -> None:
        self.target = (target_host, target_port)
        self.cut_after_bytes = cut_after_bytes
        self.sent = 0  # bytes forwarded from clients to the server
        self.port = 0
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._listen()

    @property
    def endpoint(self) -> str:
        """``127.0.0.1:PORT``, where clients connect."""
        return f"127.0.0.1:{self.port}"

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.05)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            client.settimeout(None)
            with self._lock:
                if self._listener is not listener:  # cut meanwhile
                    client.close()
                    upstream.close()
                    return
                self._open.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, upstream: bool) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
                if upstream:
                    with self._lock:
                        self.sent += len(data)
                        over = self.cut_after_bytes is not None and self.sent >= self.cut_after_bytes
                    if over:
                        self.cut()
                        return
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                _close(sock)
            with self._lock:
                self._open.difference_update((src, dst))

    def cut(self) -> None:
        """Drop every connection and refuse new ones, as a dead server or a pulled cable would."""
        with self._lock:
            listener, self._listener = self._listener, None
            self.cut_after_bytes = None
            sockets = list(self._open)
            self._open.clear()
        if listener is not None:
            # close() alone leaves the port listening until the accept call in progress returns;
            # shutdown() stops it now, so every later connect is refused rather than reset.
            _close(listener)
        for sock in sockets:
            _close(sock)

    def restore(self) -> None:
        """Accept connections again, on the same port."""
        if self._listener is None:
            self._listen()

    def close(self) -> None:
        """Stop for good."""
        self.cut()


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


@pytest.fixture
def tcp_proxy() -> Iterator:
    """Make proxies with ``tcp_proxy(host, port, cut_after_bytes=None)``; all are closed after the test."""
    made: list[TcpProxy] = []

    def make(host: str, port: int, cut_after_bytes: int | None = None) -> TcpProxy:
        proxy = TcpProxy(host, port, cut_after_bytes)
        made.append(proxy)
        return proxy

    yield make
    for proxy in made:
        proxy.close()
