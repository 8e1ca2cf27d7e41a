"""Checkpoint round trip and refusal of bad files; Grad-CAM correctness."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from liveness_app.core.backends.torch_scorer import LivenessScorer
from liveness_app.core.model import ModelLoadError, build_model, load_checkpoint, read_checkpoint
from tests.conftest import make_checkpoint


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    path = make_checkpoint(tmp_path / "m.pt", input_size=96, threshold=0.37, name="rt")
    model, meta = load_checkpoint(path)
    assert meta.preprocessing.input_size == 96 and meta.preprocessing.crop_margin == 0.25
    assert meta.threshold == pytest.approx(0.37) and meta.name == "rt"
    assert meta.class_names == ("spoof", "live")
    torch.manual_seed(0)
    ref = build_model()
    for (k, a), (_, b) in zip(model.state_dict().items(), ref.state_dict().items()):
        assert torch.equal(a, b), k
    assert not model.training


def test_garbage_file_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00not a checkpoint" * 50)
    with pytest.raises(ModelLoadError, match="not a readable weights-only checkpoint"):
        load_checkpoint(bad)


class _Payload:
    """An arbitrary object: unpickling it could run code, so a weights-only load must refuse it."""

    def __reduce__(self):  # pragma: no cover - must never be called
        return (print, ("pwned",))


def test_arbitrary_pickle_is_never_unpickled(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    evil = tmp_path / "evil.pt"
    torch.save({"state_dict": {}, "x": _Payload()}, evil)
    with pytest.raises(ModelLoadError):
        load_checkpoint(evil)
    assert "pwned" not in capsys.readouterr().out
    plain = tmp_path / "plain.pkl"
    plain.write_bytes(pickle.dumps(_Payload()))
    with pytest.raises(ModelLoadError):
        read_checkpoint(plain)


def test_foreign_and_mismatched_checkpoints_are_refused(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.pt"
    torch.save(build_model().state_dict(), foreign)  # a bare state_dict: no metadata
    with pytest.raises(ModelLoadError, match="not a Liveness Studio model"):
        load_checkpoint(foreign)
    good = torch.load(make_checkpoint(tmp_path / "g.pt"), weights_only=True)
    wrong_format = dict(good, format="someone-else/3")
    torch.save(wrong_format, tmp_path / "wf.pt")
    with pytest.raises(ModelLoadError, match="format"):
        load_checkpoint(tmp_path / "wf.pt")
    truncated = dict(good, state_dict={k: v for k, v in list(good["state_dict"].items())[:-2]})
    torch.save(truncated, tmp_path / "tr.pt")
    with pytest.raises(ModelLoadError, match="weights do not match"):
        load_checkpoint(tmp_path / "tr.pt")
    bad_threshold = dict(good, threshold=3.0)
    torch.save(bad_threshold, tmp_path / "th.pt")
    with pytest.raises(ModelLoadError, match="threshold"):
        load_checkpoint(tmp_path / "th.pt")


class _RedDetector(nn.Module):
    """features: channel 0 = redness per pixel (1x1 conv + ReLU); classifier: logit = 5 * mean redness."""

    def __init__(self) -> None:
        super().__init__()
        conv = nn.Conv2d(3, 2, 1, bias=False)
        conv.weight.data = torch.tensor([[1.0, -1.0, -1.0], [0.0, 1.0, 0.0]]).view(2, 3, 1, 1)
        self.features = nn.Sequential(conv, nn.ReLU())
        self.classifier = nn.Linear(2, 1)
        self.classifier.weight.data = torch.tensor([[5.0, 0.0]])
        self.classifier.bias.data = torch.tensor([-1.0])

    def texture_features(self, x: torch.Tensor) -> None:
        return None

    def head(self, features: torch.Tensor, texture: None) -> torch.Tensor:
        return self.classifier(features.mean((2, 3))).squeeze(1)


def test_gradcam_highlights_the_region_that_drives_the_score() -> None:
    x = torch.zeros(1, 3, 32, 32)
    x[0, 1] = 0.5  # green everywhere: does not move the score
    x[0, 0, 20:28, 4:12] = 1.0  # a red patch, bottom-left: the only thing that raises P(live)
    out = LivenessScorer(_RedDetector())(x, with_cam=True, threshold=0.1)
    cam = out.cams[0]
    assert cam.shape == (32, 32) and cam.max() == pytest.approx(1.0)
    assert cam[20:28, 4:12].min() > 0.9
    outside = np.ones_like(cam, bool)
    outside[20:28, 4:12] = False
    assert cam[outside].max() < 0.05


@pytest.mark.parametrize("lbp_grid", [0, 2], ids=["cnn", "cnn+lbp"])
def test_head_only_gradcam_equals_textbook_gradcam(lbp_grid: int) -> None:
    torch.manual_seed(1)
    model = build_model(lbp_grid=lbp_grid).eval()
    x = torch.randn(2, 3, 96, 96)
    fast = LivenessScorer(model)(x, with_cam=True, threshold=0.0)  # explain the live logit for both
    acts = {}
    handle = model.features.register_forward_hook(lambda m, i, o: acts.setdefault("a", o))
    for p in model.parameters():
        p.requires_grad_(True)
    logits = model(x.clone().requires_grad_(True)).squeeze(1)
    handle.remove()
    grads = torch.autograd.grad(logits.sum(), acts["a"])[0]
    cam = torch.relu((grads.mean((2, 3), keepdim=True) * acts["a"]).sum(1))
    cam = (cam / cam.flatten(1).max(1).values.clamp_min(1e-8)[:, None, None]).detach().numpy()
    assert fast.cams.shape == (2, 3, 3)
    np.testing.assert_allclose(fast.cams, cam, atol=1e-4)
    np.testing.assert_allclose(fast.scores, torch.sigmoid(logits).detach().numpy(), atol=1e-5)
