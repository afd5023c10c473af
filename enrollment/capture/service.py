"""The project's own device service: any :class:`~.devices.BiometricDevice` served over HTTP
on 127.0.0.1 with the verbs of MOSIP's device specification, for tests, training stations
and as a reference for vendors.

``MOSIPDISC /device`` lists the devices (optionally of one ``type``), ``MOSIPDINFO /info``
gives one device's info, ``RCAPTURE /capture`` captures (the image in base64 with its chained
hash, or an ``error`` with its code), ``STREAM /stream`` returns one preview frame as PNG.
Errors of the device travel as the specification's ``errorCode`` / ``errorInfo``; a request
the service cannot parse gets HTTP 400.

Examples
--------
>>> from enrollment.capture.devices import (CaptureRequest, HttpDevice, Modality,
...                                         SyntheticDevice, discover)
>>> with DeviceService([SyntheticDevice("FP-9", Modality.FINGER, seed=1)]) as service:
...     [(d.device_id, info.status.value) for d, info in discover([service.port])]
...     HttpDevice(service.url, "FP-9").capture(CaptureRequest(sub_id=1)).image[:4]
[('FP-9', 'Ready')]
b'\\x89PNG'
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from enrollment.capture import constants as C
from enrollment.capture.devices import (
    BiometricDevice,
    CaptureRequest,
    DeviceErrorCode,
    DeviceInfo,
)
from enrollment.capture.errors import CaptureError, DeviceError

__all__ = ["DeviceService"]

#: Largest request body the service reads (bytes).
MAX_REQUEST = 64 * 1024


def _error(code: int, info: str) -> dict[str, Any]:
    return {"errorCode": str(int(code)), "errorInfo": info}


class DeviceService:
    """Serve devices on ``127.0.0.1:port`` (``port=0``: a free port) in a background thread.

    Parameters
    ----------
    devices : iterable of BiometricDevice
        Served under their own device ids.
    port : int
        The port; a vendor's service takes one of 4501-4600.
    """

    def __init__(self, devices: Iterable[BiometricDevice], *, port: int = 0) -> None:
        self.devices: dict[str, BiometricDevice] = {}
        for device in devices:
            self.devices[device.info().device_id] = device
        handler = _handler(self)
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port the service listens on."""
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> DeviceService:
        """Start serving in a daemon thread."""
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> DeviceService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the verbs ----------------------------------------------------------------------------

    def discover(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        wanted = body.get("type", "Biometric Device")
        infos = [d.info() for d in self.devices.values()]
        return [
            {**i.to_dict(), "error": _error(0, "Success")}
            for i in infos
            if wanted in ("Biometric Device", i.modality.value)
        ]

    def _device(self, device_id: Any) -> BiometricDevice | None:
        return self.devices.get(str(device_id))

    def device_info(self, body: dict[str, Any]) -> dict[str, Any]:
        device = self._device(body.get("deviceId"))
        if device is None:
            return {"error": _error(DeviceErrorCode.NOT_FOUND, "no such device")}
        info: DeviceInfo = device.info()
        return {"deviceInfo": info.to_dict(), "error": _error(0, "Success")}

    def capture(self, body: dict[str, Any]) -> dict[str, Any]:
        request = CaptureRequest.from_dict(body)
        device = self._device(body["bio"][0].get("deviceId"))
        if device is None:
            return {"biometrics": [{"error": _error(DeviceErrorCode.NOT_FOUND, "no such device")}]}
        try:
            shot = device.capture(request)
        except DeviceError as exc:
            info = f"{exc.timeout:g} s" if hasattr(exc, "timeout") else str(exc)
            return {"biometrics": [{"error": _error(exc.code, info)}]}
        data = {
            "bioType": shot.modality.value,
            "bioSubType": shot.sub_id,
            "bioValue": base64.b64encode(shot.image).decode(),
            "ppi": shot.ppi,
            "qualityScore": shot.quality,
            "transactionId": request.transaction_id,
        }
        return {"biometrics": [{"data": data, "hash": shot.hash, "error": _error(0, "Success")}]}

    def stream(self, body: dict[str, Any]) -> bytes | None:
        device = self._device(body.get("deviceId"))
        return None if device is None else device.preview(int(body.get("deviceSubId", 0)))


def _handler(service: DeviceService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "nusafis-device-service/1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def _body(self) -> dict[str, Any] | None:
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 <= length <= MAX_REQUEST:
                return None
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                return None
            return body if isinstance(body, dict) else None

        def _send(self, status: int, payload: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _json(self, answer: Any) -> None:
            self._send(200, json.dumps(answer).encode(), "application/json")

        def _answer(self, verb: Any) -> None:
            body = self._body()
            if body is None:
                self._send(400, b"bad request body", "text/plain")
                return
            try:
                verb(body)
            except (CaptureError, KeyError, IndexError, TypeError, ValueError) as exc:
                self._send(
                    400, f"bad request: {exc}".encode()[: C.MAX_DEVICE_RESPONSE], "text/plain"
                )

        def do_MOSIPDISC(self) -> None:
            self._answer(lambda body: self._json(service.discover(body)))

        def do_MOSIPDINFO(self) -> None:
            self._answer(lambda body: self._json(service.device_info(body)))

        def do_RCAPTURE(self) -> None:
            self._answer(lambda body: self._json(service.capture(body)))

        def do_STREAM(self) -> None:
            def stream(body: dict[str, Any]) -> None:
                try:
                    frame = service.stream(body)
                except DeviceError as exc:
                    self._send(503, str(exc).encode(), "text/plain")
                    return
                if frame is None:
                    self._send(404, b"no such device", "text/plain")
                else:
                    self._send(200, frame, "image/png")

            self._answer(stream)

    return Handler
