"""Hostile training data: decompression bombs (images and videos whose headers declare huge frames), file
names that are not UTF-8, and "faces" the detector finds in tiny noise images. Each is skipped or handled
with a reason; none aborts or crashes a run, and what reaches skipped.csv, logs and the model's data
summary is text any file takes."""

from __future__ import annotations

import csv
import json
import logging
import os
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from liveness_app import paths
from liveness_app.core.face import FaceDetector
from liveness_app.core.files import MAX_IMAGE_PIXELS, ImageTooLargeError, check_frame_size, display_path, read_image
from training.data.cache import CropCache
from training.data.faces import video_frames
from training.data.folders import scan_label_folders
from training.data.frames import eval_entries
from training.data.samples import Sample
from training.fit.prepare import skipped_message, summarize_used, write_skipped


@pytest.fixture(scope="module")
def face_frame() -> np.ndarray:
    """A frame of the bundled sample video: one face, about 100 px wide."""
    cap = cv2.VideoCapture(str(paths.sample_video_path()))
    ok, frame = cap.read()
    cap.release()
    assert ok, "the bundled sample video is unreadable"
    return frame


def _cache(tmp_path: Path) -> CropCache:
    return CropCache(
        tmp_path / "cache",
        paths.default_detector_path(),
        crop_margin=0.2,
        cache_margin_extra=0.25,
        cache_size=128,
        frames_per_video=2,
    )


# -- decompression bombs: small files that declare huge frames ---------------------------------------------


def png_bomb(width: int, height: int) -> bytes:
    """An 8x8 PNG whose IHDR says ``width`` x ``height``, its CRC made to match (a valid header)."""
    data = bytearray(cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))[1].tobytes())
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def _patch_sof(data: bytearray, width: int, height: int) -> int:
    """Set the size in every baseline JPEG SOF0 segment of ``data``; returns how many were patched."""
    found, at = 0, data.find(b"\xff\xc0")
    while at >= 0:
        data[at + 5 : at + 9] = struct.pack(">HH", height, width)
        found, at = found + 1, data.find(b"\xff\xc0", at + 9)
    return found


def jpeg_bomb(width: int, height: int) -> bytes:
    """An 8x8 JPEG whose SOF0 says ``width`` x ``height``."""
    data = bytearray(cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))[1].tobytes())
    assert _patch_sof(data, width, height) == 1
    return bytes(data)


def avi_bomb(path: Path, width: int, height: int) -> Path:
    """A 3-frame 16x16 MJPEG AVI whose frames (and AVI headers) say ``width`` x ``height``."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (16, 16))
    assert writer.isOpened()
    for i in range(3):
        writer.write(np.full((16, 16, 3), 40 * i, np.uint8))
    writer.release()
    data = bytearray(path.read_bytes())
    avih, strf = data.index(b"avih") + 8, data.index(b"strf") + 8
    data[avih + 32 : avih + 40] = struct.pack("<II", width, height)  # dwWidth, dwHeight
    data[strf + 4 : strf + 12] = struct.pack("<ii", width, height)  # biWidth, biHeight
    assert _patch_sof(data, width, height) == 3
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("make", [png_bomb, jpeg_bomb])
@pytest.mark.parametrize("side", [(8000, 7000), (10_000, 10_000), (32_000, 32_000)])
def test_image_bombs_are_refused_from_their_header(tmp_path: Path, make, side: tuple[int, int]) -> None:
    """56 MP (over our limit only), 100 MP (Pillow warns) and 1 GP (Pillow refuses; 3 GB decoded)."""
    path = tmp_path / f"bomb{'.png' if make is png_bomb else '.jpg'}"
    path.write_bytes(make(*side))
    assert path.stat().st_size < 1000
    with pytest.raises(ImageTooLargeError, match="limit") as caught:
        read_image(path)
    assert isinstance(caught.value, OSError)  # so every caller that skips unreadable files skips it too
    pixels = side[0] * side[1]
    assert f"{side[0]}x{side[1]}" in str(caught.value) or f"{pixels} pixels" in str(caught.value)


def test_the_limit_leaves_room_for_8k() -> None:
    check_frame_size(7680, 4320, "8K")  # 33 MP: no error
    assert MAX_IMAGE_PIXELS >= 7680 * 4320
    with pytest.raises(ImageTooLargeError, match="9000x6000 pixels"):
        check_frame_size(9000, 6000, "big.png")


@pytest.mark.parametrize("ext", [".png", ".jpg", ".bmp", ".webp", ".ppm"])
def test_ordinary_images_still_read(tmp_path: Path, face_frame: np.ndarray, ext: str) -> None:
    path = tmp_path / f"face{ext}"
    assert cv2.imwrite(str(path), face_frame)
    image = read_image(path)
    assert image.shape == face_frame.shape and image.dtype == np.uint8
    if ext in (".png", ".bmp", ".ppm"):
        np.testing.assert_array_equal(image, face_frame)  # lossless: the very same pixels


def test_garbage_is_still_an_oserror(tmp_path: Path) -> None:
    (tmp_path / "x.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (tmp_path / "empty.jpg").write_bytes(b"")
    for name in ("x.png", "empty.jpg", "missing.png"):
        with pytest.raises(OSError):
            read_image(tmp_path / name)


def test_video_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    video = avi_bomb(tmp_path / "bomb.avi", 10_000, 10_000)
    with pytest.raises(ImageTooLargeError, match="10000x10000 pixels"):
        video_frames(video, 4)


def test_bombs_in_a_dataset_are_skipped_and_listed(tmp_path: Path, face_frame: np.ndarray) -> None:
    data = tmp_path / "data"
    data.mkdir()
    cv2.imwrite(str(data / "face.png"), face_frame)
    (data / "bomb.png").write_bytes(png_bomb(9000, 9000))
    (data / "bomb.jpg").write_bytes(jpeg_bomb(9000, 9000))
    avi_bomb(data / "bomb.avi", 9000, 9000)
    samples = [
        Sample(data / "face.png", "live", "a", "image"),
        Sample(data / "bomb.png", "live", "b", "image"),
        Sample(data / "bomb.jpg", "print", "c", "image"),
        Sample(data / "bomb.avi", "live", "d", "video"),
    ]
    built = _cache(tmp_path).build(samples)
    assert [item.sample.path.name for item in built] == ["face.png"]
    reasons = {Path(p).name: r for p, r in built.skipped}
    assert set(reasons) == {"bomb.png", "bomb.jpg", "bomb.avi"}
    assert all("9000x9000 pixels" in r and "limit" in r for r in reasons.values()), reasons
    write_skipped(tmp_path / "run" / "skipped.csv", built.skipped)
    with (tmp_path / "run" / "skipped.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {Path(r["path"]).name for r in rows} == set(reasons)


# -- file names that are not UTF-8 -------------------------------------------------------------------------


def _odd_name(folder: Path, raw: bytes) -> Path:
    """``folder / raw`` as Python names it (surrogate escapes); skips where the OS refuses such names."""
    try:
        path = folder / os.fsdecode(raw)
        path.touch()
    except (OSError, UnicodeError) as exc:
        pytest.skip(f"this file system refuses a name that is not UTF-8: {exc}")
    return path


def test_names_that_are_not_utf8_train_and_are_written(
    tmp_path: Path, face_frame: np.ndarray, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "data"
    (root / "live").mkdir(parents=True)
    (root / "print").mkdir()
    odd_image = _odd_name(root / "live", b"face-\xff_1.png")
    cv2.imencode(".png", face_frame)[1].tofile(str(odd_image))
    odd_video = _odd_name(root / "live", b"clip-\xfe.mp4")
    writer = cv2.VideoWriter(str(tmp_path / "clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, face_frame.shape[1::-1])
    for _ in range(3):
        writer.write(face_frame)
    writer.release()
    odd_video.write_bytes((tmp_path / "clip.mp4").read_bytes())
    _odd_name(root / "print", b"broken-\xfd.jpg").write_bytes(b"not a jpeg")
    os.symlink(os.fsdecode(b"gone-\xfc.png"), os.fsdecode(os.fsencode(root / "print") + b"/link-\xfb.png"))
    cv2.imwrite(str(root / "print" / "bob_1.png"), face_frame)

    with caplog.at_level(logging.WARNING):
        samples = scan_label_folders(root)
    assert {s.path for s in samples} >= {odd_image, odd_video}  # the real paths, to open the files
    assert {s.group for s in samples} == {"face-\\xff", "clip-\\xfe", "broken-\\xfd", "bob"}
    built = _cache(tmp_path).build(samples)
    assert {item.sample.path for item in built} == {odd_image, odd_video, root / "print" / "bob_1.png"}
    skipped = samples.skipped + built.skipped
    assert sorted(Path(p).name for p, _ in skipped) == ["broken-\\xfd.jpg", "link-\\xfb.png"]
    assert any("gone-\\xfc.png" in reason for _, reason in skipped)

    # Everything the run writes as text: skipped.csv, the warning, the data summary, the score CSVs.
    write_skipped(tmp_path / "run" / "skipped.csv", skipped)
    assert "broken-\\xfd.jpg" in (tmp_path / "run" / "skipped.csv").read_text(encoding="utf-8")
    skipped_message(skipped, len(samples), tmp_path / "run" / "skipped.csv").encode("utf-8")
    summary = summarize_used(list(built), list(built), [], skipped, [str(root)])
    json.dumps(summary, ensure_ascii=False).encode("utf-8")
    for entry in eval_entries(built, 4):
        f"{entry.video_id},{entry.group},{entry.label}".encode("utf-8")
    for record in caplog.records:
        record.getMessage().encode("utf-8")  # the folder scan's warning names the skipped files


def test_display_path_keeps_valid_names() -> None:
    assert display_path(Path("/data/live/Zoë_1.png")) == "/data/live/Zoë_1.png"
    assert display_path(os.fsdecode(b"/d/face-\xff.png")) == "/d/face-\\xff.png"


# -- tiny "faces" ------------------------------------------------------------------------------------------


def _noise(count: int, side: int = 8) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (side, side, 3), dtype=np.uint8) for _ in range(count)]


def test_the_detector_ignores_faces_in_tiny_noise(face_frame: np.ndarray) -> None:
    with FaceDetector(paths.default_detector_path(), min_face_px=0) as raw:
        assert sum(bool(raw.detect(img, 1000 * i)) for i, img in enumerate(_noise(40))) >= 5  # the problem
    with FaceDetector(paths.default_detector_path()) as detector:  # as the app and training make it
        assert not any(detector.detect(img, 1000 * i) for i, img in enumerate(_noise(40)))
        assert len(detector.detect(face_frame, 100_000)) == 1


def test_tiny_noise_gives_no_training_crop(tmp_path: Path, face_frame: np.ndarray) -> None:
    data = tmp_path / "data"
    data.mkdir()
    samples = []
    for i, img in enumerate(_noise(40) + _noise(10, side=64)):
        cv2.imwrite(str(data / f"noise{i}.png"), img)
        samples.append(Sample(data / f"noise{i}.png", "live", f"n{i}", "image"))
    cv2.imwrite(str(data / "face.png"), face_frame)
    built = _cache(tmp_path).build(samples + [Sample(data / "face.png", "print", "f", "image")])
    assert [item.sample.path.name for item in built] == ["face.png"]
    assert len(built.skipped) == 50 and all("no face" in reason for _, reason in built.skipped)
