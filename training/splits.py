"""Choosing train and dev when the data has one person only: later sessions are dev.

Across several subjects, :func:`training.dataset.split_by_group` keeps each subject in one split. A user
alone in front of their own camera has one subject: then a split by session in time (the later sessions
of each label are dev) is the only honest check left, and the run says so: dev is the same person.
"""
from __future__ import annotations

from typing import Sequence

from liveness_app.core.sessions import LIVE

from .dataset import Sample

ONE_PERSON_NOTE = ("one subject: split by session in time, dev = the later sessions of the same person "
                   "(dev figures say how the model does for this person and camera, not for others)")


class SplitError(ValueError):
    """The data cannot give a train and a dev split; the message says what to record next."""


def sessions_by_label(samples: Sequence[Sample]) -> dict[str, list[list[Sample]]]:
    """Per label, the sessions (samples of one video; a lone image is its own) in path order, which is
    capture order for the app's recordings (their names start with the date and time)."""
    out: dict[str, dict[str, list[Sample]]] = {}
    for s in sorted(samples, key=lambda x: str(x.path)):
        out.setdefault(s.label, {}).setdefault(s.video_id, []).append(s)
    return {label: list(by_video.values()) for label, by_video in sorted(out.items())}


def split_by_session(samples: Sequence[Sample], dev_fraction: float = 0.25) -> tuple[list[Sample], list[Sample]]:
    """(train, dev) for one person: the last ``dev_fraction`` of each label's sessions (at least one) are
    dev. Raises :class:`SplitError` when that cannot work: no live or no attack session, or a label
    with a single session (nothing could be held out to check it)."""
    by_label = sessions_by_label(samples)
    if LIVE not in by_label:
        raise SplitError("no live session: record a 'live' session of yourself looking at the camera")
    if len(by_label) < 2:
        raise SplitError("no attack session: record at least one attack (a photo of yourself on a phone, "
                         "a printed photo or a screen), then train again")
    single = [label for label, sessions in by_label.items() if len(sessions) < 2]
    if single:
        names = ", ".join(f"'{label}'" for label in single)
        raise SplitError(f"only one {names} session: record a second {names} session, so that one can be "
                         "held out to check the model")
    train: list[Sample] = []
    dev: list[Sample] = []
    for sessions in by_label.values():
        n_dev = min(len(sessions) - 1, max(1, round(dev_fraction * len(sessions))))
        for s in sessions[:-n_dev]:
            train += s
        for s in sessions[-n_dev:]:
            dev += s
    return train, dev
