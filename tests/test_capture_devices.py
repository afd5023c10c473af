"""Part 2 of issue 22: the device protocol (modelled on MOSIP's device specification), the
folder-backed and synthetic devices, the HTTP client and the project's device service."""

from __future__ import annotations

import http.client
import threading
from pathlib import Path

import pytest

from enrollment.capture import (
    BiometricDevice,
    CaptureError,
    CaptureRequest,
    CaptureTimeout,
    CorruptImage,
    DeviceBusy,
    DeviceCapture,
    DeviceError,
    DeviceErrorCode,
    DeviceInfo,
    DeviceNotReady,
    DeviceService,
    DeviceStatus,
    FolderDevice,
    HttpDevice,
    Modality,
    SyntheticDevice,
    discover,
)
from enrollment.capture.devices import chain_hash
from enrollment.capture.synthetic import png, render_finger

PNG = b"\x89PNG"


def test_synthetic_devices_implement_the_protocol_for_every_modality() -> None:
    kit = [
        SyntheticDevice("FP-1", Modality.FINGER, 3),
        SyntheticDevice("SL-1", Modality.FINGER, 3, sub_type="Slap"),
        SyntheticDevice("CAM-1", "Face", 3),
        SyntheticDevice("IR-1", Modality.IRIS, 3),
        SyntheticDevice("SIG-1", Modality.SIGNATURE, 3),
    ]
    for device in kit:
        assert isinstance(device, BiometricDevice)
        info = device.info()
        assert info.status == DeviceStatus.READY
        assert DeviceInfo.from_dict(info.to_dict()) == info
        shot = device.capture(CaptureRequest(sub_id=info.sub_ids[-1]))
        assert shot.image.startswith(PNG) and shot.hash == chain_hash("", shot.image)
        assert device.preview(info.sub_ids[0]).startswith(PNG)
    with pytest.raises(DeviceError, match="no sub-id 4") as err:
        kit[1].capture(CaptureRequest(sub_id=4))
    assert err.value.code == DeviceErrorCode.INVALID_SUB_ID


def test_each_capture_is_a_new_impression_of_the_same_person() -> None:
    device = SyntheticDevice("FP-1", Modality.FINGER, 3)
    first = device.capture(CaptureRequest(sub_id=2)).image
    second = device.capture(CaptureRequest(sub_id=2)).image
    assert first != second
    device.present(3)
    assert device.capture(CaptureRequest(sub_id=2)).image == first


def test_injected_faults_give_typed_errors_then_the_device_works() -> None:
    device = SyntheticDevice("FP-1", Modality.FINGER, 3)
    device.inject("busy", "not_ready", "timeout", "no_biometric", "corrupt")
    with pytest.raises(DeviceBusy, match="busy \\(111\\)"):
        device.capture(CaptureRequest(sub_id=1))
    with pytest.raises(DeviceNotReady, match="not ready \\(110\\)"):
        device.capture(CaptureRequest(sub_id=1))
    with pytest.raises(CaptureTimeout, match="timed out \\(701\\) after 2 s"):
        device.capture(CaptureRequest(sub_id=1, timeout=2))
    with pytest.raises(DeviceError, match="101") as err:
        device.capture(CaptureRequest(sub_id=1))
    assert err.value.code == 101
    corrupt = device.capture(CaptureRequest(sub_id=1)).image
    assert corrupt.startswith(PNG) and len(corrupt) < len(png(render_finger(31, 0))) // 2
    assert device.capture(CaptureRequest(sub_id=1)).image.startswith(PNG)
    with pytest.raises(ValueError, match="unknown fault"):
        device.inject("smoke")


def test_a_device_in_the_middle_of_a_capture_is_busy() -> None:
    device = SyntheticDevice("FP-1", Modality.FINGER, 3)
    with device._lock:  # a capture on another thread holds the sensor
        assert device.status() == DeviceStatus.BUSY
        with pytest.raises(DeviceBusy):
            device.capture(CaptureRequest(sub_id=1))
    assert device.status() == DeviceStatus.READY


def test_a_capture_request_is_validated() -> None:
    with pytest.raises(ValueError, match="timeout"):
        CaptureRequest(sub_id=1, timeout=0)
    with pytest.raises(TypeError, match="sub_id"):
        CaptureRequest(sub_id="1")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        CaptureRequest(sub_id=1, exceptions=(11,))
    request = CaptureRequest(sub_id=2, requested_quality=60, timeout=3.5, exceptions=(3,))
    assert CaptureRequest.from_dict(request.to_dict()) == request


def test_a_folder_device_serves_files_in_order_and_repeats_the_last(tmp_path: Path) -> None:
    for name, seed in (("a.png", 1), ("b.png", 2)):
        (tmp_path / "right_index").mkdir(exist_ok=True)
        (tmp_path / "right_index" / name).write_bytes(png(render_finger(seed, 0)))
    (tmp_path / "7").mkdir()
    (tmp_path / "7" / "x.png").write_bytes(b"left index")
    device = FolderDevice("FP-2", Modality.FINGER, tmp_path)
    served = [device.capture(CaptureRequest(sub_id=2)).image for _ in range(3)]
    files = sorted((tmp_path / "right_index").iterdir())
    assert served == [files[0].read_bytes(), files[1].read_bytes(), files[1].read_bytes()]
    shot = device.capture(CaptureRequest(sub_id=7))
    assert shot.image == b"left index" and shot.ppi is None  # the file's own resolution
    with pytest.raises(DeviceError, match="no image to serve") as err:
        device.capture(CaptureRequest(sub_id=1))
    assert err.value.code == DeviceErrorCode.NO_BIOMETRIC
    listed = FolderDevice("FP-3", Modality.FINGER, {1: [files[0]]})
    assert listed.capture(CaptureRequest(sub_id=1)).image == files[0].read_bytes()


def test_a_folder_device_without_its_folder_is_not_ready(tmp_path: Path) -> None:
    device = FolderDevice("FP-2", Modality.FINGER, tmp_path / "unplugged")
    assert device.status() == DeviceStatus.NOT_READY
    with pytest.raises(DeviceNotReady, match="unplugged"):
        device.capture(CaptureRequest(sub_id=1))


class _Hanging:
    """A device whose capture never finishes until released (a stuck vendor driver)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.inner = SyntheticDevice("HANG-1", Modality.FINGER, 1)

    def info(self) -> DeviceInfo:
        return DeviceInfo("HANG-1", Modality.FINGER, "Single", (1,), DeviceStatus.READY)

    def status(self) -> DeviceStatus:
        return DeviceStatus.READY

    def capture(self, request: CaptureRequest) -> DeviceCapture:
        self.release.wait(30)
        return self.inner.capture(request)

    def preview(self, sub_id: int) -> bytes:
        return b""


class _Tampering(_Hanging):
    """A device service whose image does not match the hash it sends."""

    def info(self) -> DeviceInfo:
        return DeviceInfo("BAD-1", Modality.FINGER, "Single", (1,), DeviceStatus.READY)

    def capture(self, request: CaptureRequest) -> DeviceCapture:
        shot = self.inner.capture(request)
        return DeviceCapture("BAD-1", shot.modality, 1, shot.image, hash="0" * 64)


def test_the_device_service_over_http() -> None:
    finger = SyntheticDevice("FP-1", Modality.FINGER, 5)
    twin = SyntheticDevice("FP-1", Modality.FINGER, 5)
    face = SyntheticDevice("CAM-1", Modality.FACE, 5)
    hanging, tampering = _Hanging(), _Tampering()
    with DeviceService([finger, face, hanging, tampering]) as service:
        found = discover([1, service.port], timeout=1)
        assert [info.device_id for _, info in found] == ["FP-1", "CAM-1", "HANG-1", "BAD-1"]
        cameras = discover([service.port], modality=Modality.FACE)
        assert [d.device_id for d, _ in cameras] == ["CAM-1"]
        remote = HttpDevice(service.url, "FP-1")
        assert isinstance(remote, BiometricDevice)
        assert remote.info() == finger.info()
        shot = remote.capture(CaptureRequest(sub_id=4, previous_hash="ab"))
        direct = twin.capture(CaptureRequest(sub_id=4, previous_hash="ab"))
        assert (shot.image, shot.hash, shot.sub_id) == (direct.image, direct.hash, 4)
        assert shot.ppi == direct.ppi == 500.0
        assert remote.preview(4).startswith(PNG)
        finger.inject("busy", "not_ready", "timeout")
        with pytest.raises(DeviceBusy):
            remote.capture(CaptureRequest(sub_id=1))
        with pytest.raises(DeviceNotReady):
            remote.capture(CaptureRequest(sub_id=1))
        with pytest.raises(CaptureTimeout, match="after 3 s"):
            remote.capture(CaptureRequest(sub_id=1, timeout=3))
        with pytest.raises(DeviceError, match="106"):
            HttpDevice(service.url, "NOPE").capture(CaptureRequest(sub_id=1))
        with pytest.raises(CorruptImage, match="does not match its hash"):
            HttpDevice(service.url, "BAD-1").capture(CaptureRequest(sub_id=1))
        stuck = HttpDevice(service.url, "HANG-1", call_timeout=0.2)
        try:
            with pytest.raises(CaptureTimeout):
                stuck.capture(CaptureRequest(sub_id=1, timeout=0.2))
        finally:
            hanging.release.set()
        assert remote.capture(CaptureRequest(sub_id=1)).image.startswith(PNG)
    gone = HttpDevice(service.url, "FP-1")
    assert gone.status() == DeviceStatus.NOT_READY
    with pytest.raises(DeviceNotReady, match="no device service"):
        gone.capture(CaptureRequest(sub_id=1))


def test_the_http_client_only_talks_to_localhost() -> None:
    with pytest.raises(CaptureError, match=r"127\.0\.0\.1 only"):
        HttpDevice("http://10.0.0.5:4501", "FP-1")
    with pytest.raises(CaptureError, match="http://"):
        HttpDevice("https://127.0.0.1:4501", "FP-1")


def test_the_device_service_answers_a_malformed_request_with_http_400() -> None:
    with DeviceService([SyntheticDevice("FP-1", Modality.FINGER, 5)]) as service:
        for body in (b"not json", b"[1, 2]", b'{"bio": []}', b'{"bio": [{"deviceSubId": "x"}]}'):
            connection = http.client.HTTPConnection("127.0.0.1", service.port, timeout=5)
            connection.request("RCAPTURE", "/capture", body)
            assert connection.getresponse().status == 400, body
            connection.close()
