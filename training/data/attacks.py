"""Presentation attacks simulated from physics, applied to live training faces as extra attack samples.

A replay shows the face on a screen that the camera films again; a print puts it on paper. Each leaves
traces the model can learn without ever having seen that screen or that printer:

- **screen replay**: the display's pixel grid (RGB sub-pixel stripes) resampled by the camera -> moire
  fringes; the display's tone curve and gamut (gamma, lifted blacks, a white-point tint); specular glare
  on the glass; sometimes the bezel at an edge of the view.
- **print**: halftone dots (a rotated dot screen per ink), the paper's tone (a warm white, ink that is
  never black), a flattened dynamic range and weaker saturation, light ink spread.

Everything works on a uint8 BGR crop and draws its parameters from the given generator, so a sample is
reproducible from the run seed. The result passes through the usual augmentation afterwards (the camera
that films the attack has its own colour, noise and compression).
"""

from __future__ import annotations

import cv2
import numpy as np

KINDS = ("synthetic-replay", "synthetic-print")


def _grid(shape: tuple[int, int], pitch: float, angle: float, phase: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Rotated pixel coordinates in units of ``pitch`` (u across the stripes, v along them)."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    c, s = np.cos(angle), np.sin(angle)
    return (xx * c + yy * s) / pitch + phase, (-xx * s + yy * c) / pitch


def screen_pixels(img: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """The display's RGB sub-pixel stripes, drawn on a 2x finer grid and resampled down: the camera's
    sampling of the grid aliases into moire fringes whose pitch and angle depend on the draw."""
    h, w = img.shape[:2]
    up = cv2.resize(img, (2 * w, 2 * h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    u, v = _grid(
        (2 * h, 2 * w),
        pitch=float(rng.uniform(2.2, 6.0)),
        angle=float(rng.uniform(-0.25, 0.25)),
        phase=float(rng.uniform(0, 1)),
    )
    frac = u - np.floor(u)
    rows = 0.5 + 0.5 * np.cos(2 * np.pi * v * float(rng.uniform(0.9, 1.1)))  # the gaps between pixel rows
    for channel, centre in ((2, 1 / 6), (1, 1 / 2), (0, 5 / 6)):  # BGR order: R, G, B stripes left to right
        stripe = np.clip(1.0 - np.abs(frac - centre) * 3.0, 0.0, 1.0)
        pattern = 0.55 * stripe + 0.45 * rows
        up[..., channel] *= (1.0 - strength) + strength * pattern / pattern.mean()  # same mean brightness
    return cv2.resize(
        np.clip(up, 0, 255), (w, h), interpolation=cv2.INTER_NEAREST if rng.random() < 0.5 else cv2.INTER_LINEAR
    )


def display_tone(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A display's tone curve and gamut: gamma, lifted blacks, a cool or warm white point, less contrast."""
    x = img.astype(np.float32) / 255.0
    x = x ** float(rng.uniform(0.75, 1.3))
    black, white = float(rng.uniform(0.02, 0.12)), float(rng.uniform(0.85, 1.0))
    tint = np.array([rng.uniform(0.95, 1.08), rng.uniform(0.96, 1.03), rng.uniform(0.9, 1.02)], np.float32)
    x = black + (white - black) * x * tint
    return np.clip(x * 255.0, 0, 255)


def glare(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A soft specular highlight of the glass: an elongated Gaussian blob that washes the image out."""
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    angle = rng.uniform(0, np.pi)
    a, b = rng.uniform(0.15, 0.6) * w, rng.uniform(0.05, 0.25) * h
    dx, dy = xx - cx, yy - cy
    u = (dx * np.cos(angle) + dy * np.sin(angle)) / a
    v = (-dx * np.sin(angle) + dy * np.cos(angle)) / b
    blob = np.exp(-0.5 * (u * u + v * v))[..., None] * float(rng.uniform(0.15, 0.55))
    return img * (1.0 - blob) + 255.0 * blob


def bezel(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The screen's frame at one edge of the view: a dark band, and a strip of the room beyond it."""
    h, w = img.shape[:2]
    out = img.copy()
    side = int(rng.integers(4))  # left, top, right, bottom
    extent = w if side in (0, 2) else h
    dist = np.arange(extent) if side in (0, 1) else np.arange(extent)[::-1]  # distance from that edge
    room = int(rng.uniform(0.0, 0.1) * extent)
    width = max(1, int(rng.uniform(0.04, 0.14) * extent))
    for mask, colour in (
        (dist < room, rng.uniform(40, 200, 3)),
        ((dist >= room) & (dist < room + width), rng.uniform(5, 45, 3)),
    ):
        if side in (0, 2):
            out[:, mask] = colour
        else:
            out[mask, :] = colour
    return out


def simulate_replay(crop_bgr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The face as a screen replay filmed again (moire, display tone, glare, sometimes a bezel)."""
    img = display_tone(crop_bgr, rng)
    img = screen_pixels(img.astype(np.uint8), rng, strength=float(rng.uniform(0.25, 0.7)))
    if rng.random() < 0.6:
        img = glare(img, rng)
    if rng.random() < 0.3:
        img = bezel(img, rng)
    if rng.random() < 0.5:  # the second camera's focus on the glass
        img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.3, 0.8)))
    return np.clip(img, 0, 255).astype(np.uint8)


def halftone(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each ink as dots on its own rotated screen: a dot's area follows the ink coverage (1 - channel)."""
    h, w = img.shape[:2]
    cell = float(rng.uniform(1.8, 4.0))
    out = np.empty((h, w, 3), np.float32)
    base = float(rng.uniform(0, np.pi / 2))
    for channel, offset in zip(range(3), (0.26, 0.79, 0.0)):  # the classic 15/45/0 degree screens, rotated
        u, v = _grid((h, w), cell, base + offset)
        dots = 0.5 + 0.25 * (np.cos(2 * np.pi * u) + np.cos(2 * np.pi * v))  # 0..1 dot profile
        ink = 1.0 - img[..., channel].astype(np.float32) / 255.0
        softness = 0.12
        out[..., channel] = 1.0 - np.clip((ink - dots) / softness + 0.5, 0.0, 1.0)
    return out * 255.0


def paper(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Paper white (a warm tint), ink black that is never black, weaker saturation, a lighting gradient."""
    x = img.astype(np.float32) / 255.0
    grey = x.mean(axis=2, keepdims=True)
    x = grey + (x - grey) * float(rng.uniform(0.55, 0.9))
    white = np.array([rng.uniform(0.78, 0.92), rng.uniform(0.86, 0.97), rng.uniform(0.9, 1.0)], np.float32)
    black = float(rng.uniform(0.06, 0.2))
    x = black + (white - black) * x
    h, w = x.shape[:2]
    ramp = np.linspace(-1, 1, w if rng.random() < 0.5 else h, dtype=np.float32) * float(rng.uniform(0, 0.12))
    x = x * (1.0 + (ramp[None, :, None] if ramp.size == w else ramp[:, None, None]))
    return np.clip(x * 255.0, 0, 255)


def simulate_print(crop_bgr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The face as a print photographed (halftone, ink spread, paper tone and range)."""
    img = halftone(crop_bgr, rng) if rng.random() < 0.7 else crop_bgr.astype(np.float32)
    img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.4, 1.0)))  # ink spread and the camera's focus
    return paper(img, rng).astype(np.uint8)


def simulate_attack(crop_bgr: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """A replay or a print of ``crop_bgr`` (even odds), and which one."""
    if rng.random() < 0.5:
        return simulate_replay(crop_bgr, rng), KINDS[0]
    return simulate_print(crop_bgr, rng), KINDS[1]
