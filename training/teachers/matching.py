"""Function matching: the teachers score the very view the student trains on, not the stored crop.

Soft targets on the stored crops (:mod:`.targets`) give the student one fixed teacher score per crop, while
the student sees a jittered, recoloured, flipped copy of it. Beyer et al. (2022, "Knowledge distillation: A
good teacher is patient and consistent") found that distillation works best when teacher and student see
the *same* augmented view, with mixup between images and a long schedule. Here:

- :class:`FaceSources` knows, for every training crop, the frame it was cut from and the face box (the
  boxes are found once, by the same :func:`training.data.faces.sample_faces` as the crop cache and the
  teachers' score cache, and kept on disk beside the scores);
- :class:`MatchedDataset` reads the frame, flips and recolours the *whole frame* (the run's augmentation),
  jitters the face box (the scale and shift jitter of :func:`training.data.cache.crop_for_training`), then
  cuts the student's crop (the app's ``crop_face`` and ``prepare_crop``) and every teacher's own crop
  (:func:`.crops.teacher_input`) from that one augmented frame;
- :class:`Matcher` scores the teachers' inputs of a batch (after the same mixup as the student's) and
  combines them with the run's fitted rule into the soft target of each mixed view.
"""

from __future__ import annotations

import dataclasses
import json
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Generator, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from liveness_app.core.face import MIN_FACE_PX, FaceBox
from liveness_app.core.files import atomic_write_text, file_sha256, read_image
from liveness_app.core.preprocess import PreprocessSpec, crop_face, prepare_crop
from training.data.augment import AugmentConfig, augment
from training.data.cache import CachedItem, sample_key, settings_digest
from training.data.faces import Detectors, sample_faces, video_frames
from training.data.frames import Entry
from training.data.samples import Sample
from training.teachers.combine import Combiner
from training.teachers.crops import teacher_input
from training.teachers.runner import TeacherModel
from training.teachers.spec import TeacherSpec

FORMAT = 1
SCALE_JITTER = (-0.1, 0.2)  # as crop_for_training: added to the model's margin
MAX_SHIFT = 0.05  # face sides
_VIDEO_FRAMES_KEPT = 4  # decoded videos kept per loader worker

Sources = dict[Path, tuple[Sample, int, FaceBox]]  # crop path -> (sample, frame index, face box)
Matched = tuple[Sources, list[TeacherSpec]]  # what a training loader needs for function matching


class FaceSources:
    """Crop path -> (sample, frame index, face box) for cached items; the boxes cached on disk
    (``cache_dir/teachers/boxes-<hash>.json``, untrusted: anything not four finite numbers is found again)."""

    def __init__(self, cache_dir: Path, detector_path: Path, frames_per_video: int) -> None:
        self.detector_path = Path(detector_path)
        self.frames_per_video = int(frames_per_video)
        settings = {
            "format": FORMAT,
            "detector": file_sha256(self.detector_path),
            "min_face_px": MIN_FACE_PX,
            "frames_per_video": self.frames_per_video,
        }
        self.path = Path(cache_dir) / "teachers" / f"boxes-{settings_digest(settings)}.json"
        self.settings = settings
        self.table = _load_boxes(self.path)
        self.by_crop: Sources = {}

    def steps(self, items: Sequence[CachedItem], workers: int = 1) -> Generator[tuple[int, int], None, int]:
        """Finds the boxes no table holds yet, yielding (done, total); returns how many crops have a source.
        A sample whose count of faces differs from its count of crops (a changed file) gets none."""
        keys = [sample_key(item.sample) for item in items]
        todo = [i for i, k in enumerate(keys) if k and k not in self.table]
        with Detectors(self.detector_path) as detectors, ThreadPoolExecutor(max(1, workers)) as pool:
            faces = pool.map(lambda i: sample_faces(items[i].sample, detectors, self.frames_per_video).faces, todo)
            for n, (i, found) in enumerate(zip(todo, faces), start=1):
                self.table[str(keys[i])] = [[b.x, b.y, b.w, b.h] for _, b in found]
                yield n, len(todo)
        if todo:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.path, json.dumps({"settings": self.settings, "boxes": self.table}))
        for item, key in zip(items, keys):
            boxes = self.table.get(key or "")
            if boxes is None or len(boxes) != len(item.crop_paths):
                continue
            for k, (p, b) in enumerate(zip(item.crop_paths, boxes)):
                self.by_crop[Path(p)] = (item.sample, k, FaceBox(*b))
        return len(self.by_crop)


def _load_boxes(path: Path) -> dict[str, list[list[float]]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))["boxes"]
        return {
            str(k): [[float(x) for x in b] for b in v]
            for k, v in data.items()
            if isinstance(v, list)
            and all(isinstance(b, list) and len(b) == 4 and all(isinstance(x, (int, float)) for x in b) for b in v)
            and all(np.isfinite(b).all() and b[2] > 0 and b[3] > 0 for b in v)
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError, MemoryError):
        return {}


def jitter_box(box: FaceBox, crop_margin: float, rng: np.random.Generator) -> FaceBox:
    """The box scaled so that ``crop_face(frame, box', crop_margin)`` is the crop at margin + U(SCALE_JITTER),
    its centre shifted by up to MAX_SHIFT face sides: the student's jitter, applied where teachers see it."""
    margin = max(0.0, crop_margin + rng.uniform(*SCALE_JITTER))
    s = (1.0 + 2.0 * margin) / (1.0 + 2.0 * crop_margin)
    dx, dy = rng.uniform(-MAX_SHIFT, MAX_SHIFT, size=2) * box.w
    cx, cy = box.x + box.w / 2 + dx, box.y + box.h / 2 + dy
    return FaceBox(cx - box.w * s / 2, cy - box.h * s / 2, box.w * s, box.h * s)


class MatchedDataset(Dataset):
    """Training entries -> (student input, label, index, [each teacher's input]) cut from one augmented frame."""

    def __init__(
        self,
        entries: Sequence[Entry],
        sources: Sources,
        spec: PreprocessSpec,
        teachers: Sequence[TeacherSpec],
        frames_per_video: int,
        seed: int = 4,
        epoch: int = 0,
        augment_cfg: AugmentConfig = AugmentConfig(),
    ) -> None:
        self.entries = list(entries)  # each must have a source (the loader draws only those)
        self.sources = sources
        self.spec, self.teachers, self.frames_per_video = spec, list(teachers), frames_per_video
        self.seed, self.epoch = seed, epoch
        self.flip = augment_cfg.flip
        # the flip is done here (the box must follow it); the size of a *crop* means nothing for a frame
        self.augment_cfg = dataclasses.replace(augment_cfg, flip=0.0, downscale_p=0.0)
        self._videos: OrderedDict[Path, list[np.ndarray]] = OrderedDict()

    def __len__(self) -> int:
        return len(self.entries)

    def frame(self, sample: Sample, k: int) -> np.ndarray:
        if sample.kind == "image":
            return read_image(sample.path)
        frames = self._videos.pop(sample.path, None) or video_frames(sample.path, self.frames_per_video)
        self._videos[sample.path] = frames
        while len(self._videos) > _VIDEO_FRAMES_KEPT:
            self._videos.popitem(last=False)
        return frames[k]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, float, int, list[torch.Tensor]]:
        entry = self.entries[index]
        sample, k, box = self.sources[entry.crop_path]
        rng = np.random.default_rng([self.seed, self.epoch, index])
        frame = self.frame(sample, k)
        box = jitter_box(box, self.spec.crop_margin, rng)
        if rng.random() < self.flip:
            frame = frame[:, ::-1]
            box = FaceBox(frame.shape[1] - box.x - box.w, box.y, box.w, box.h)
        frame = augment(np.ascontiguousarray(frame), rng, self.augment_cfg)
        student = prepare_crop(crop_face(frame, box, self.spec.crop_margin), self.spec)
        views = [torch.from_numpy(teacher_input(frame, box, t)) for t in self.teachers]
        return torch.from_numpy(student), entry.target, index, views


class Matcher:
    """The teachers and their fitted combination: P(live) of a batch of (mixed) teacher inputs."""

    def __init__(self, teachers: Sequence[TeacherModel], combiner: Combiner, mixup: float = 0.0, seed: int = 4) -> None:
        self.teachers, self.combiner, self.mixup = list(teachers), combiner, float(mixup)
        self.rng = np.random.default_rng([seed, 7])

    @property
    def specs(self) -> list[TeacherSpec]:
        return [t.spec for t in self.teachers]

    def soft(self, views: Sequence[torch.Tensor]) -> torch.Tensor:
        columns = [t.score_inputs(v.numpy()) for t, v in zip(self.teachers, views)]
        return torch.from_numpy(self.combiner(np.stack(columns, axis=1))).float()

    def mix(
        self, x: torch.Tensor, y: torch.Tensor, views: list[torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """Mixup (Zhang et al. 2018) of the batch with a permutation of itself, the same weight for the
        student's inputs, the teachers' and the labels; unchanged when ``mixup`` is 0."""
        if self.mixup <= 0 or len(y) < 2:
            return x, y, views
        lam = float(self.rng.beta(self.mixup, self.mixup))
        perm = torch.from_numpy(self.rng.permutation(len(y)))
        mixed = [lam * v + (1 - lam) * v[perm] for v in views]
        return lam * x + (1 - lam) * x[perm], lam * y + (1 - lam) * y[perm], mixed
