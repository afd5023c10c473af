"""Connect an emulated card to a ``vpcd`` slot of ``pcscd`` (vsmartcard's virtual reader).

The vpcd driver listens on TCP (slot 0 on 35963, slot 1 on 35964); the card side connects
as a client. Each message is a big-endian uint16 length, then the payload. A one-byte
payload is a control code (0 power off, 1 power on, 2 reset, 4 send the ATR); anything else
is a command APDU, answered with a response APDU. Closing the connection is pulling the card
out of the reader.

Examples
--------
>>> from reader.emulator import EmulatedSam, VpcdLink
>>> link = VpcdLink(EmulatedSam({1: bytes(16)}, pin="1234"), port=35964)
>>> link.connected
False
"""

from __future__ import annotations

import logging
import socket
import struct
import threading
import time
from typing import Protocol

__all__ = ["Chip", "VpcdLink"]

log = logging.getLogger("reader.emulator.vpcd")

CTRL_OFF, CTRL_ON, CTRL_RESET, CTRL_ATR = 0, 1, 2, 4
_QUICKACK = getattr(socket, "TCP_QUICKACK", None)  # Linux only


class Chip(Protocol):
    """What the link needs of an emulated card or SAM."""

    def atr(self) -> bytes: ...
    def power_on(self) -> None: ...
    def power_off(self) -> None: ...
    def reset(self) -> None: ...
    def process(self, raw: bytes) -> bytes | None: ...


class VpcdLink:
    """Serve ``chip`` on a vpcd slot from a background thread.

    Parameters
    ----------
    chip : Chip
        The emulated card or SAM.
    port : int
        vpcd's TCP port of the slot (35963 slot 0, 35964 slot 1).
    host : str
        Where pcscd with vpcd runs.
    remove_after : int or None
        Pull the card out (close the connection without answering) when this many command
        APDUs have arrived: a card taken away in the middle of a read.
    """

    def __init__(
        self, chip: Chip, port: int, host: str = "127.0.0.1", remove_after: int | None = None
    ) -> None:
        self.chip = chip
        self.port = port
        self.host = host
        self.remove_after = remove_after
        self.apdus = 0
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def connected(self) -> bool:
        """Whether the card is in the reader (connected to vpcd)."""
        return self._sock is not None

    def start(self, timeout: float = 5.0) -> VpcdLink:
        """Insert the card: connect to vpcd (retrying until ``timeout``) and start serving."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                sock = socket.create_connection((self.host, self.port), timeout=1.0)
                break
            except OSError as exc:
                if time.monotonic() > deadline:
                    raise ConnectionError(
                        f"vpcd does not listen on {self.host}:{self.port} ({exc}); "
                        "is pcscd running with the vpcd driver (tools/install-pcsc.sh)?"
                    ) from None
                time.sleep(0.05)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(0.2)
        self._sock = sock
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name=f"vpcd:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Remove the card: close the connection and wait for the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        self._close()

    def __enter__(self) -> VpcdLink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _recv_exact(self, n: int) -> bytes | None:
        buf = bytearray()
        while len(buf) < n:
            if self._stop.is_set() or self._sock is None:
                return None
            try:
                # vpcd writes the length and the payload in two segments: without a quick ACK
                # Nagle's algorithm on its side waits for our delayed ACK (~40 ms a message)
                if _QUICKACK is not None:
                    self._sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
                part = self._sock.recv(n - len(buf))
            except TimeoutError:
                continue
            except OSError:
                return None
            if not part:
                return None
            buf += part
        return bytes(buf)

    def _send(self, payload: bytes) -> None:
        assert self._sock is not None
        self._sock.sendall(struct.pack(">H", len(payload)) + payload)

    def _serve(self) -> None:
        try:
            while not self._stop.is_set():
                head = self._recv_exact(2)
                if head is None:
                    break
                (size,) = struct.unpack(">H", head)
                payload = self._recv_exact(size) if size else b""
                if payload is None:
                    break
                if size == 1:
                    code = payload[0]
                    if code == CTRL_ON:
                        self.chip.power_on()
                    elif code == CTRL_OFF:
                        self.chip.power_off()
                    elif code == CTRL_RESET:
                        self.chip.reset()
                    elif code == CTRL_ATR:
                        self._send(self.chip.atr())
                    continue
                self.apdus += 1
                if self.remove_after is not None and self.apdus >= self.remove_after:
                    log.info("vpcd:%d: card pulled out at APDU %d", self.port, self.apdus)
                    break
                answer = self.chip.process(payload)
                if answer is None:
                    log.info("vpcd:%d: card went silent", self.port)
                    break
                self._send(answer)
        except OSError as exc:
            log.info("vpcd:%d: connection lost (%s)", self.port, exc)
        finally:
            self._close()
