"""training.data.cache: crops made once (detector, skips, index reuse) and the training crop geometry.

Faces come from frames of the bundled sample video, in which BlazeFace finds one face in every frame.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from liveness_app import paths
from liveness_app.core.face import FaceBox
from liveness_app.core.files import read_image
from liveness_app.core.preprocess import crop_face
from training.data import faces as faces_module
from training.data.cache import CropCache, crop_for_training
from training.data.faces import video_frames
from training.data.samples import Sample

MARGIN, EXTRA = 0.2, 0.25


@pytest.fixture(scope="module")
def face_frames() -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(paths.sample_video_path()))
    frames = []
    while len(frames) < 12:
        ok, frame = cap.read()
        assert ok, "the bundled sample video is unreadable"
        frames.append(frame)
    cap.release()
    return frames


def _write_video(path: Path, frames: list[np.ndarray]) -> Path:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (w, h))
    assert writer.isOpened()
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture()
def samples(tmp_path: Path, face_frames: list[np.ndarray]) -> list[Sample]:
    data = tmp_path / "data"
    data.mkdir()
    video = _write_video(data / "clip.mp4", face_frames)
    cv2.imwrite(str(data / "face.png"), face_frames[5])
    cv2.imwrite(str(data / "tight.png"), face_frames[3][150:270, 160:280])
    rng = np.random.default_rng(0)
    blank = np.full((240, 320, 3), 90, np.uint8) + rng.integers(0, 8, (240, 320, 3), dtype=np.uint8)
    cv2.imwrite(str(data / "noface.png"), blank)
    (data / "broken.mp4").write_bytes(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    (data / "broken.jpg").write_bytes(b"not a jpeg at all")
    return [
        Sample(video, "live", "a", "video"),
        Sample(data / "face.png", "print", "a", "image"),
        Sample(data / "tight.png", "replay", "b", "image", precropped=True),
        Sample(data / "broken.mp4", "live", "c", "video"),
        Sample(data / "noface.png", "live", "d", "image"),
        Sample(data / "broken.jpg", "print", "e", "image"),
        Sample(data / "missing.jpg", "print", "e", "image"),
    ]


def _cache(tmp_path: Path, **kw: float) -> CropCache:
    return CropCache(
        tmp_path / "cache",
        paths.default_detector_path(),
        crop_margin=MARGIN,
        cache_margin_extra=EXTRA,
        cache_size=128,
        frames_per_video=4,
        **kw,
    )


class _NoDetector:
    def __init__(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("the detector must not run when the index has every sample")


def test_build_crops_and_skips(tmp_path: Path, samples: list[Sample]) -> None:
    calls: list[tuple[int, int]] = []
    built = _cache(tmp_path).build(samples, progress=lambda done, total: calls.append((done, total)))
    assert [item.sample.path.name for item in built] == ["clip.mp4", "face.png", "tight.png"]
    assert [len(item.crop_paths) for item in built] == [4, 1, 1]
    for item in built:
        for crop_path in item.crop_paths:
            crop = read_image(crop_path)
            assert crop.shape[0] == crop.shape[1] <= 128
    reasons = {Path(path).name: reason for path, reason in built.skipped}
    assert set(reasons) == {"broken.mp4", "noface.png", "broken.jpg", "missing.jpg"}
    assert "no face" in reasons["noface.png"] and "unreadable" in reasons["broken.mp4"]
    assert "unreadable" in reasons["broken.jpg"] and "not found" in reasons["missing.jpg"]
    assert built.frames_without_face == 1
    assert calls[-1] == (len(samples), len(samples))
    index = json.loads((built[0].crop_paths[0].parent.parent / "index.json").read_text())
    assert len(index["entries"]) == len(samples) - 1  # all but the missing file


def test_second_build_reuses_the_index(tmp_path: Path, samples: list[Sample], monkeypatch: pytest.MonkeyPatch) -> None:
    first = _cache(tmp_path).build(samples, workers=2)
    monkeypatch.setattr(faces_module, "FaceDetector", _NoDetector)
    second = _cache(tmp_path).build(samples)
    assert [i.crop_paths for i in second] == [i.crop_paths for i in first]
    assert second.skipped == first.skipped and second.frames_without_face == 1


def test_changed_settings_or_file_are_rebuilt(
    tmp_path: Path, samples: list[Sample], monkeypatch: pytest.MonkeyPatch
) -> None:
    image = [samples[1]]
    first = _cache(tmp_path).build(image)
    wider = CropCache(tmp_path / "cache", paths.default_detector_path(), crop_margin=0.3)
    assert wider.folder != _cache(tmp_path).folder
    (tmp_path / "data" / "face.png").write_bytes(cv2.imencode(".png", np.zeros((60, 60, 3), np.uint8))[1])
    monkeypatch.setattr(faces_module, "FaceDetector", _NoDetector)
    with pytest.raises(AssertionError, match="must not run"):
        _cache(tmp_path).build(image)  # a changed file needs the detector again
    assert first[0].crop_paths[0].is_file()


def test_video_frames_are_spread_over_the_video(tmp_path: Path, face_frames: list[np.ndarray]) -> None:
    marked = [f.copy() for f in face_frames]
    for i, frame in enumerate(marked):
        frame[:40, :40] = 20 * i  # brightness tells which frame came back, despite compression
    video = _write_video(tmp_path / "v.mp4", marked)
    got = [int(round(f[5:35, 5:35].mean() / 20)) for f in video_frames(video, 4)]
    assert got == [0, 4, 7, 11]
    assert len(video_frames(video, 50)) == len(face_frames)


@pytest.mark.parametrize("reported", [0, -1, 100])
def test_video_frames_survive_a_wrong_frame_count(
    tmp_path: Path, face_frames: list[np.ndarray], monkeypatch: pytest.MonkeyPatch, reported: int
) -> None:
    video = _write_video(tmp_path / "v.mp4", face_frames)
    real_capture = cv2.VideoCapture

    class LyingCapture:
        def __init__(self, path: str) -> None:
            self._cap = real_capture(path)

        def get(self, prop: int) -> float:
            return float(reported) if prop == cv2.CAP_PROP_FRAME_COUNT else self._cap.get(prop)

        def __getattr__(self, name: str) -> object:
            return getattr(self._cap, name)

    monkeypatch.setattr(cv2, "VideoCapture", LyingCapture)
    assert len(video_frames(video, 4)) == 4
    assert len(video_frames(video, 50)) == len(face_frames)


def _marked_frame() -> tuple[np.ndarray, FaceBox]:
    frame = np.full((480, 640, 3), 120, np.uint8)
    box = FaceBox(250.0, 150.0, 120.0, 130.0)
    cx, cy = (int(v) for v in box.center)
    frame[cy - 3 : cy + 3, cx - 3 : cx + 3] = (0, 0, 255)  # a red dot on the face centre
    return frame, box


def _red_centre(image: np.ndarray) -> tuple[float, float]:
    ys, xs = np.nonzero((image[:, :, 2] > 200) & (image[:, :, 1] < 80))
    return float(xs.mean()), float(ys.mean())


def test_eval_crop_matches_crop_face_at_the_model_margin() -> None:
    frame, box = _marked_frame()
    wide = crop_face(frame, box, MARGIN + EXTRA)
    cached = cv2.resize(wide, (128, 128), interpolation=cv2.INTER_AREA)
    reference = crop_face(frame, box, MARGIN)
    got = crop_for_training(cached, MARGIN, EXTRA)
    scale = 128 / wide.shape[0]
    assert got.shape[0] == got.shape[1]
    assert abs(got.shape[0] - reference.shape[0] * scale) <= 1.0
    ref_x, ref_y = _red_centre(reference)
    got_x, got_y = _red_centre(got)
    assert abs(got_x - ref_x * scale) <= 1.5 and abs(got_y - ref_y * scale) <= 1.5


def test_train_crops_jitter_within_bounds() -> None:
    frame, box = _marked_frame()
    cached = crop_face(frame, box, MARGIN + EXTRA)
    face = cached.shape[0] / (1 + 2 * (MARGIN + EXTRA))
    rng = np.random.default_rng(3)
    sides = []
    for _ in range(50):
        crop = crop_for_training(cached, MARGIN, EXTRA, rng=rng)
        assert crop.shape[0] == crop.shape[1] <= cached.shape[0]
        assert face * (1 + 2 * (MARGIN - 0.1)) - 1 <= crop.shape[0] <= cached.shape[0]
        x, y = _red_centre(crop)
        assert abs(x - crop.shape[1] / 2) <= 0.05 * face + 2 and abs(y - crop.shape[0] / 2) <= 0.05 * face + 2
        sides.append(crop.shape[0])
    assert len(set(sides)) > 5
    again = crop_for_training(cached, MARGIN, EXTRA, rng=np.random.default_rng(3))
    first = crop_for_training(cached, MARGIN, EXTRA, rng=np.random.default_rng(3))
    assert np.array_equal(again, first)


def test_precropped_image_is_the_face_box(tmp_path: Path) -> None:
    """A tight crop is a face: the model sees it with the same margin as a detected face."""
    tight = np.full((60, 48, 3), 200, np.uint8)  # small enough that the cache does not downscale it
    cv2.imwrite(str(tmp_path / "t.png"), tight)
    built = _cache(tmp_path).build([Sample(tmp_path / "t.png", "live", "g", "image", precropped=True)])
    cached = read_image(built[0].crop_paths[0])
    got = crop_for_training(cached, MARGIN, EXTRA)
    side = 60 * (1 + 2 * MARGIN)
    assert abs(got.shape[0] - side) <= 1
    pad = int(round((side - 60) / 2))
    assert got[pad + 1 : -pad - 1, pad + 7 : -pad - 7].min() > 150  # the face, in the middle
    assert got[: pad - 1].max() == 0 and got[:, : pad - 1].max() == 0  # the margin, padded black


def test_worker_processes_make_the_same_crops_as_one_thread(
    tmp_path: Path, samples: list[Sample], face_frames: list[np.ndarray]
) -> None:
    """A big enough build finds faces in worker processes (training.data.cache_pool); the crops, skips and
    index are those of a build on one thread, and the pool is kept for the cache's next build."""
    from training.data.cache_pool import MIN_SAMPLES

    many = list(samples)
    for i in range(MIN_SAMPLES):
        path = tmp_path / "data" / f"f{i}.png"
        cv2.imwrite(str(path), face_frames[i % len(face_frames)])
        many.append(Sample(path, "live", f"g{i % 3}", "image"))
    one = _cache(tmp_path / "one").build(many, workers=1)
    cache = _cache(tmp_path / "many")
    parallel = cache.build(many, workers=2)
    assert cache._pool is not None and cache._pool.processes == 2
    assert [i.sample.path for i in parallel] == [i.sample.path for i in one]
    assert sorted(Path(p).name for p, _ in parallel.skipped) == sorted(Path(p).name for p, _ in one.skipped)
    for a, b in zip(one, parallel):
        assert [p.name for p in a.crop_paths] == [p.name for p in b.crop_paths]
        for pa, pb in zip(a.crop_paths, b.crop_paths):
            assert np.array_equal(read_image(pa), read_image(pb))
    assert cache.build(many, workers=2).skipped == parallel.skipped  # from the index now
