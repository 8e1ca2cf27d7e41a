"""``liveness-train`` under torchrun: two CPU processes (gloo) train one model on a tiny set, resume it,
and share the balanced sample, the crop cache and the BatchNorm statistics as one process would.

The multi-process tests start ``python -m torch.distributed.run`` (what ``torchrun`` is), as users do;
each takes about 15 s on a 2-core CPU.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import pytest
import torch
from torch.utils.data import WeightedRandomSampler

from liveness_app import paths
from liveness_app.core.model import load_checkpoint
from studio_fakes import tiny_dataset
from training.data import faces as faces_module
from training.data.cache import CropCache
from training.data.frames import Entry, balanced_weights
from training.data.samples import Sample
from training.fit.distributed import SINGLE, balanced_share, session

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 180  # a hung collective fails the test instead of the CI job


def _torchrun(args: list[str], home: Path, module: bool = True) -> subprocess.CompletedProcess:
    """Two processes on this CPU, one torch thread each, as ``torchrun --standalone`` runs them."""
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "CUDA_VISIBLE_DEVICES": "",
        "LIVENESS_STUDIO_HOME": str(home),
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        "2",
        "--standalone",
        *(["-m", "training"] if module else []),
        *args,
    ]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)


def _train_args(root: Path, run: Path, *extra: str) -> list[str]:
    """The CI-sized run of studio_fakes.tiny_train_config, as command-line options."""
    return [
        "--data",
        f"cropped:{root / 'data'}",
        "--out-dir",
        str(run),
        "--cache-dir",
        str(root / "cache"),
        "--input-size",
        "32",
        "--batch-size",
        "16",
        "--lr",
        "3e-3",
        "--workers",
        "0",
        "--dev-groups",
        "subj3",
        "--loss",
        "bce",
        "--device",
        "cpu",
        "--no-install",
        *extra,
    ]


def _log(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    """One epoch by two gloo processes; (the folder holding data, cache and run, the finished torchrun)."""
    root = tmp_path_factory.mktemp("ddp")
    tiny_dataset(root / "data")
    done = _torchrun(_train_args(root, root / "run", "--epochs", "1"), root / "home")
    assert done.returncode == 0, done.stderr[-3000:]
    return root, done


def test_two_cpu_processes_train_one_model(ddp_run: tuple[Path, subprocess.CompletedProcess]) -> None:
    root, done = ddp_run
    run = root / "run"
    assert sorted(p.name for p in run.iterdir()) == [
        "best.pt",
        "config.json",
        "last_state.pt",
        "log.jsonl",
        "skipped.csv",
    ]
    assert sorted(p.name for p in root.rglob("*.pt")) == ["best.pt", "last_state.pt"]  # no second model anywhere
    assert not (root / "home").exists() or not list((root / "home").rglob("*.pt"))  # --no-install
    model, meta = load_checkpoint(run / "best.pt")
    assert meta.training["world_size"] == 2
    assert meta.training["distributed"] == {
        "backend": "gloo",
        "sync_bn": False,
        "batch_per_rank": 16,
        "global_batch": 32,
    }
    (report,) = _log(run)  # one line: rank 0 alone writes the log
    assert report["world_size"] == 2 and report["replicas_in_sync"]  # one model, not two that trained alone
    assert report["images"] == 96 - 24  # the 72 training crops (subj3 is dev), split over the two ranks
    assert done.stdout.count("epoch 1:") == 1 and done.stdout.count("best model:") == 1  # rank 0 prints
    assert done.stderr.count("liveness-train: warning: skipped 1") == 1
    (index,) = (root / "cache").glob("*/index.json")  # one index, written by rank 0, of every sample
    assert len(json.loads(index.read_text())["entries"]) == 97


def test_resume_under_two_processes(ddp_run: tuple[Path, subprocess.CompletedProcess], tmp_path: Path) -> None:
    root, _ = ddp_run
    run = tmp_path / "run"
    shutil.copytree(root / "run", run)
    done = _torchrun(_train_args(root, run, "--epochs", "2", "--resume"), tmp_path / "home")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "epoch 1:" not in done.stdout and done.stdout.count("epoch 2:") == 1
    assert [r["epoch"] for r in _log(run)] == [1, 2] and _log(run)[1]["replicas_in_sync"]
    assert torch.load(run / "last_state.pt", weights_only=True)["epoch"] == 2
    assert load_checkpoint(run / "best.pt")[1].training["world_size"] == 2


def test_a_single_process_has_no_process_group() -> None:
    """Without torchrun (or with one process) nothing is initialised and the metadata says world_size 1."""
    for env in ({}, {"WORLD_SIZE": "1", "RANK": "0", "LOCAL_RANK": "0"}):
        with session("cpu", env) as dist:
            assert dist is SINGLE and not torch.distributed.is_initialized()
    assert SINGLE.describe(True, 16) == {
        "world_size": 1,
        "distributed": {"backend": None, "sync_bn": False, "batch_per_rank": 16, "global_batch": 16},
    }


@pytest.mark.parametrize("n", [50, 51, 7])
def test_the_ranks_share_the_balanced_sample_disjointly(n: int) -> None:
    entries = [
        Entry(Path(f"{g}{i}.png"), label, g, f"{g}{i}")
        for g, count in (("a", 30), ("b", 5))
        for label in ("live", "print")
        for i in range(count)
    ]
    weights = balanced_weights(entries)
    gen = lambda: torch.Generator().manual_seed(4007)  # noqa: E731 (the same seed on every rank)
    # One process draws exactly what WeightedRandomSampler drew before.
    assert balanced_share(weights, n, gen()) == list(WeightedRandomSampler(weights, n, True, generator=gen()))
    for world in (2, 3):
        shares = [balanced_share(weights, n, gen(), rank, world) for rank in range(world)]
        assert len({len(s) for s in shares}) == 1  # as many batches on every rank: DDP never waits forever
        whole = balanced_share(weights, -(-n // world) * world, gen())
        assert [shares[i % world][i // world] for i in range(len(whole))] == whole  # disjoint, the whole epoch
        assert sum(map(len, shares)) - n < world  # rounded up by less than one image per rank


def _face_samples(folder: Path) -> list[Sample]:
    """Frames of the bundled video (a face each), a faceless image, a broken file and a precropped face."""
    folder.mkdir()
    cap = cv2.VideoCapture(str(paths.sample_video_path()))
    samples = []
    for i in range(6):
        ok, frame = cap.read()
        assert ok
        cv2.imwrite(str(folder / f"f{i}.png"), frame)
        samples.append(Sample(folder / f"f{i}.png", "live" if i % 2 else "print", f"g{i % 3}", "image"))
    cap.release()
    cv2.imwrite(str(folder / "tight.png"), frame[150:270, 160:280])
    cv2.imwrite(str(folder / "blank.png"), frame[:40, :40] * 0 + 90)
    (folder / "broken.png").write_bytes(b"not an image")
    return samples + [
        Sample(folder / "tight.png", "replay", "g0", "image", precropped=True),
        Sample(folder / "blank.png", "live", "g1", "image"),
        Sample(folder / "broken.png", "print", "g2", "image"),
    ]


def test_a_parallel_cache_build_equals_a_single_process_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What prepare.cache_samples does on each of two ranks, run here one rank after the other."""
    samples = _face_samples(tmp_path / "data")
    make = lambda name: CropCache(tmp_path / name, paths.default_detector_path(), 0.25)  # noqa: E731
    alone = make("single").build(samples)
    ranks = [make("parallel"), make("parallel")]  # two processes: one folder, an index each in memory
    shares = [cache.make_share(samples, rank, 2) for rank, cache in enumerate(ranks)]
    assert not set(shares[0]) & set(shares[1]) and len(shares[0]) + len(shares[1]) == len(samples)
    assert not (ranks[0].folder / "index.json").exists()  # written once, after the exchange, by rank 0
    for rank, cache in enumerate(ranks):
        for made in shares:
            cache.remember(made, save_index=rank == 0)
    monkeypatch.setattr(faces_module, "FaceDetector", _NoDetector)  # everything is in the index now
    built = [cache.build(samples, save_index=rank == 0) for rank, cache in enumerate(ranks)]
    index = lambda name: json.loads(next((tmp_path / name).glob("*/index.json")).read_text())  # noqa: E731
    assert index("parallel") == index("single")
    for got in built:
        assert [(i.sample, [p.name for p in i.crop_paths]) for i in got] == [
            (i.sample, [p.name for p in i.crop_paths]) for i in alone
        ]
        assert got.skipped == alone.skipped and got.face_frames == alone.face_frames
    for mine, theirs in zip(built[1], alone):
        assert [p.read_bytes() for p in mine.crop_paths] == [p.read_bytes() for p in theirs.crop_paths]


class _NoDetector:
    def __init__(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("the detector must not run when the index has every sample")


# Run by two processes: the global BatchNorm of --sync-bn on the CPU against one BatchNorm2d that sees both
# halves of the batch at once (outputs, input and parameter gradients, running statistics).
_SYNC_BN_CHECK = textwrap.dedent("""
    import torch, torch.distributed as dist
    from torch import nn
    from training.fit.sync_bn import convert_sync_bn, GlobalBatchNorm2d
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    torch.manual_seed(0)
    x, w = torch.randn(8, 3, 5, 5) * 3 + 1, torch.randn(8, 3, 5, 5)
    ref = nn.Sequential(nn.BatchNorm2d(3, momentum=0.3))
    with torch.no_grad():
        ref[0].weight.uniform_(0.5, 2.0); ref[0].bias.uniform_(-1.0, 1.0)
    net = convert_sync_bn(__import__("copy").deepcopy(ref), torch.device("cpu"))
    assert type(net[0]) is GlobalBatchNorm2d
    xr = x.clone().requires_grad_(True)
    expected = ref(xr)
    (expected * w).sum().backward()
    mine = x[4 * rank:4 * rank + 4].clone().requires_grad_(True)
    out = net(mine)
    (out * w[4 * rank:4 * rank + 4]).sum().backward()
    torch.testing.assert_close(out, expected[4 * rank:4 * rank + 4].detach(), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(mine.grad, xr.grad[4 * rank:4 * rank + 4], rtol=1e-4, atol=1e-5)
    for p, q in zip(net.parameters(), ref.parameters()):
        dist.all_reduce(p.grad)  # the sum of the ranks' parts of the loss
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-5)
    bn, rb = net[0], ref[0]
    torch.testing.assert_close(bn.running_mean, rb.running_mean)
    torch.testing.assert_close(bn.running_var, rb.running_var)
    dist.destroy_process_group()
""")


def test_sync_bn_on_the_cpu_is_one_batchnorm_over_both_ranks(tmp_path: Path) -> None:
    script = tmp_path / "check_sync_bn.py"
    script.write_text(_SYNC_BN_CHECK)
    done = _torchrun([str(script)], tmp_path / "home", module=False)
    assert done.returncode == 0, done.stderr[-3000:]
