"""Command lines people can read: every option of liveness-app, liveness-train, liveness-eval and
liveness-bench has a help line, and a device that does not exist is refused before any work."""

from __future__ import annotations

import argparse

import pytest

import liveness_app.bench as bench
import liveness_app.config as app_config
import training.cli as train_cli
import training.eval.evaluate as evaluate

PARSERS = {
    "liveness-app": app_config.build_parser,
    "liveness-train": train_cli.build_parser,
    "liveness-eval": evaluate.build_parser,
    "liveness-bench": bench.build_parser,
}


@pytest.mark.parametrize("command", sorted(PARSERS))
def test_every_option_has_a_help_line(command: str) -> None:
    parser = PARSERS[command]()
    silent = [
        a.option_strings or [a.dest]
        for a in parser._actions
        if not isinstance(a, argparse._HelpAction) and not (a.help or "").strip()
    ]
    assert silent == [], f"{command}: options without help: {silent}"


@pytest.mark.parametrize("command", sorted(PARSERS))
def test_an_unknown_device_is_refused_while_parsing(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    required = {"liveness-eval": ["--model", "m.pt", "--data", "d", "--out", "o"]}.get(command, [])
    with pytest.raises(SystemExit) as exc:
        PARSERS[command]().parse_args([*required, "--device", "gpu"])
    assert exc.value.code == 2 and "invalid choice: 'gpu'" in capsys.readouterr().err


# --- reading the options is quick and the help is readable (issue 25, item 6) -----------------------------

LIGHT_HELP = """
import sys
{imports}
heavy = sorted(m for m in ("torch", "sklearn", "matplotlib", "mediapipe", "scipy") if m in sys.modules)
assert not heavy, heavy
"""


@pytest.mark.parametrize(
    "imports",
    [
        "import training.__main__; from training.cli import build_parser; build_parser().format_help()",
        "from training.eval.evaluate import build_parser; build_parser().format_help()",
        "import training.calibrate, liveness_app.export; liveness_app.export.build_parser().format_help()",
    ],
)
def test_help_imports_no_torch_sklearn_matplotlib_or_mediapipe(imports: str) -> None:
    """What made `--help` take 12-14 s; the figure itself is in docs/performance.md (a measurement, not a
    test: it depends on the machine)."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", LIGHT_HELP.format(imports=imports)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr


def test_train_options_are_grouped_and_keep_their_names() -> None:
    from dataclasses import fields

    from training.config import TrainConfig

    parser = train_cli.build_parser()
    titles = [g.title for g in parser._action_groups]
    assert titles[2:] == [
        "data",
        "model",
        "schedule",
        "adaptation",
        "teachers and distillation",
        "research",
        "distributed",
        "output",
    ]
    flags = {s for a in parser._actions for s in a.option_strings}
    expected = {"--" + f.name.replace("_", "-") for f in fields(TrainConfig) if f.name != "install"}
    assert flags == expected | {"-h", "--help", "--config", "--finetune", "--no-install"}
    for group in parser._action_groups[2:]:
        assert group._group_actions, group.title


def test_each_default_is_said_once() -> None:
    parser = train_cli.build_parser()
    for action in parser._actions:
        assert (action.help or "").count("default:") <= 1, action.option_strings
    input_size = next(a for a in parser._actions if "--input-size" in a.option_strings)
    assert input_size.help.endswith("(default: 128)")
