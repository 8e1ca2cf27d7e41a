"""Figures for the evaluation report: t-SNE of embeddings and a grid of Grad-CAM examples."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.manifold import TSNE

from liveness_app.core.meta import ModelMeta
from liveness_app.core.overlay import heatmap_on_image
from liveness_app.core.preprocess import to_batch
from liveness_app.core.scores import Scorer
from liveness_app.core.sessions import LIVE
from training.data.cache import crop_for_training
from training.data.frames import CropDataset, Entry
from training.fit.prepare import CACHE_MARGIN_EXTRA


def tsne_plot(
    embeds: np.ndarray, labels: Sequence[str], path: Path, max_points: int = 2000, seed: int = 0
) -> Path | None:
    """2-D t-SNE of the pooled features, one colour per label; None when there are too few points."""
    n = len(labels)
    if n < 10:
        return None
    idx = np.random.default_rng(seed).choice(n, min(n, max_points), replace=False)
    xy = TSNE(n_components=2, perplexity=min(30, (len(idx) - 1) // 3), init="pca", random_state=seed).fit_transform(
        embeds[idx]
    )
    fig = Figure(figsize=(6, 5), dpi=110)
    ax = fig.add_subplot()
    lab = np.asarray(labels)[idx]
    for name in sorted(set(lab)):
        m = lab == name
        ax.scatter(xy[m, 0], xy[m, 1], s=6, alpha=0.7, label=f"{name} ({m.sum()})")
    ax.set_title("t-SNE of embeddings")
    ax.legend(markerscale=3, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
    FigureCanvasAgg(fig).print_png(str(path))
    return path


def _pick(entries: Sequence[Entry], scores: np.ndarray, threshold: float, per_cell: int) -> list[tuple[str, int]]:
    cells: dict[str, list[int]] = {
        "live, accepted": [],
        "live, rejected (BPCER)": [],
        "attack, rejected": [],
        "attack, accepted (APCER)": [],
    }
    for i, (e, s) in enumerate(zip(entries, scores)):
        live, accepted = e.label == LIVE, s >= threshold
        key = (
            ("live, accepted" if accepted else "live, rejected (BPCER)")
            if live
            else ("attack, accepted (APCER)" if accepted else "attack, rejected")
        )
        cells[key].append(i)
    rng = np.random.default_rng(0)
    out = []
    for key, idx in cells.items():
        for i in rng.permutation(idx)[:per_cell]:
            out.append((key, int(i)))
    return out


def gradcam_grid(
    scorer: Scorer, meta: ModelMeta, entries: Sequence[Entry], scores: np.ndarray, path: Path, per_cell: int = 4
) -> Path | None:
    """Crops with their Grad-CAM for right and wrong decisions of each class, one row per case, drawn by
    the app's scorer of the model (PyTorch or ONNX Runtime: :func:`training.eval.scoring.scorer_of`)."""
    picks = _pick(entries, scores, meta.threshold, per_cell)
    if not picks:
        return None
    ds = CropDataset([entries[i] for _, i in picks], meta.preprocessing, CACHE_MARGIN_EXTRA, train=False)
    out = scorer(to_batch([ds[k][0].numpy() for k in range(len(ds))]), with_cam=True, threshold=meta.threshold)
    assert out.cams is not None  # asked for (with_cam)
    rows = sorted({key for key, _ in picks}, key=[k for k, _ in picks].index)
    fig = Figure(figsize=(2.2 * per_cell, 2.4 * len(rows)), dpi=100)
    for k, (key, i) in enumerate(picks):
        r, c = rows.index(key), [j for j, (kk, _) in enumerate(picks) if kk == key].index(k)
        crop = crop_for_training(ds.read(k), meta.preprocessing.crop_margin, CACHE_MARGIN_EXTRA)
        ax = fig.add_subplot(len(rows), per_cell, r * per_cell + c + 1)
        ax.imshow(cv2.cvtColor(heatmap_on_image(crop, out.cams[k]), cv2.COLOR_BGR2RGB))
        ax.set_title(f"{entries[i].label} {scores[i]:.2f}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        if c == 0:
            ax.set_ylabel(key, fontsize=8)
    fig.tight_layout()
    FigureCanvasAgg(fig).print_png(str(path))
    return path
