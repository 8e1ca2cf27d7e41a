"""Splits, always by group (person, recording, source), never by frame: :func:`split_by_group` for data of
many groups, :func:`split_by_session` when the data has one person only (later sessions are dev).

Across several subjects, :func:`split_by_group` keeps each subject in one split. A user
alone in front of their own camera has one subject: then a split by session in time (the later sessions
of each label are dev) is the only honest check left, and the run says so: dev is the same person.
"""

from __future__ import annotations

import random
from typing import Iterable, Sequence

from liveness_app.core.sessions import LIVE
from training.data.samples import Sample

ONE_PERSON_NOTE = (
    "one subject: split by session in time, dev = the later sessions of the same person "
    "(dev figures say how the model does for this person and camera, not for others)"
)


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
        raise SplitError(
            "no attack session: record at least one attack (a photo of yourself on a phone, "
            "a printed photo or a screen), then train again"
        )
    single = [label for label, sessions in by_label.items() if len(sessions) < 2]
    if single:
        names = ", ".join(f"'{label}'" for label in single)
        raise SplitError(
            f"only one {names} session: record a second {names} session, so that one can be held out to check the model"
        )
    train: list[Sample] = []
    dev: list[Sample] = []
    for sessions in by_label.values():
        n_dev = min(len(sessions) - 1, max(1, round(dev_fraction * len(sessions))))
        for s in sessions[:-n_dev]:
            train += s
        for s in sessions[-n_dev:]:
            dev += s
    return train, dev


def _by_group(samples: Iterable[Sample]) -> dict[str, list[Sample]]:
    groups: dict[str, list[Sample]] = {}
    for s in samples:
        groups.setdefault(s.group, []).append(s)
    return groups


def _pick_groups(order: list[str], groups: dict[str, list[Sample]], target: float, keep: int) -> list[str]:
    """Groups from ``order`` for one held-out split of about ``target`` samples, leaving ``keep``.

    First one group with live and one with attack samples (a group with both if there is one), so the
    split can measure both error rates; then any group that brings the size closer to the target.
    """
    if target <= 0 or len(order) <= keep:
        return []
    chosen: list[str] = []
    for need in ({True, False}, {True}, {False}):
        for g in order:
            if len(order) - len(chosen) <= keep:
                break
            has = {s.is_live for s in groups[g]}
            covered = {s.is_live for c in chosen for s in groups[c]}
            if g not in chosen and need <= has and not need <= covered:
                chosen.append(g)
    size = sum(len(groups[g]) for g in chosen)
    for g in order:
        if g in chosen or len(order) - len(chosen) <= keep:
            continue
        if abs(size + len(groups[g]) - target) < abs(size - target):
            chosen.append(g)
            size += len(groups[g])
    return chosen


def split_by_group(
    samples: Sequence[Sample],
    dev_fraction: float = 0.2,
    test_fraction: float = 0.0,
    seed: int = 4,
    dev_groups: Iterable[str] | None = None,
    test_groups: Iterable[str] | None = None,
) -> tuple[list[Sample], list[Sample], list[Sample]]:
    """(train, dev, test), split by group so that no subject is in two splits.

    With explicit ``dev_groups``/``test_groups`` those groups go there (a list left None is empty) and
    every other group goes to train. Otherwise groups are drawn at random (``seed``, deterministic) until
    each held-out split holds about its fraction of the samples, with live and attack samples in it
    where the data allows. Raises ValueError for unknown or overlapping groups.
    """
    if not (0 <= dev_fraction < 1 and 0 <= test_fraction < 1 and dev_fraction + test_fraction < 1):
        raise ValueError(f"bad fractions: dev {dev_fraction}, test {test_fraction}")
    groups = _by_group(samples)
    if dev_groups is not None or test_groups is not None:
        dev_names, test_names = list(dev_groups or []), list(test_groups or [])
        unknown = set(dev_names + test_names) - set(groups)
        if unknown:
            raise ValueError(f"unknown group(s): {sorted(unknown)}")
    else:
        # Sorted before shuffling: set and dict order of strings may vary, the seed must not.
        order = sorted(groups)
        random.Random(seed).shuffle(order)
        test_names = _pick_groups(order, groups, test_fraction * len(samples), keep=1 + (dev_fraction > 0))
        rest = [g for g in order if g not in test_names]
        dev_names = _pick_groups(rest, groups, dev_fraction * len(samples), keep=1)
    if set(dev_names) & set(test_names):
        raise ValueError(f"group(s) in both dev and test: {sorted(set(dev_names) & set(test_names))}")
    dev = [s for g in dev_names for s in groups[g]]
    test = [s for g in test_names for s in groups[g]]
    held_out = set(dev_names) | set(test_names)
    train = [s for s in samples if s.group not in held_out]
    _check_disjoint(train, dev, test)
    return train, dev, test


def _check_disjoint(*splits: Sequence[Sample]) -> None:
    seen: dict[str, int] = {}
    for i, split in enumerate(splits):
        for s in split:
            if seen.setdefault(s.group, i) != i:
                raise ValueError(f"group {s.group!r} is in two splits")
