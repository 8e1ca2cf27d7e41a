"""Command lines people can read: every option of liveness-app, liveness-train, liveness-eval and
liveness-bench has a help line, and a device that does not exist is refused before any work."""
from __future__ import annotations

import argparse

import pytest

import liveness_app.bench as bench
import liveness_app.config as app_config
import training.__main__ as train_cli
import training.eval.evaluate as evaluate

PARSERS = {"liveness-app": app_config.build_parser, "liveness-train": train_cli.build_parser,
           "liveness-eval": evaluate.build_parser, "liveness-bench": bench.build_parser}


@pytest.mark.parametrize("command", sorted(PARSERS))
def test_every_option_has_a_help_line(command: str) -> None:
    parser = PARSERS[command]()
    silent = [a.option_strings or [a.dest] for a in parser._actions
              if not isinstance(a, argparse._HelpAction) and not (a.help or "").strip()]
    assert silent == [], f"{command}: options without help: {silent}"


@pytest.mark.parametrize("command", sorted(PARSERS))
def test_an_unknown_device_is_refused_while_parsing(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    required = {"liveness-eval": ["--model", "m.pt", "--data", "d", "--out", "o"]}.get(command, [])
    with pytest.raises(SystemExit) as exc:
        PARSERS[command]().parse_args([*required, "--device", "gpu"])
    assert exc.value.code == 2 and "invalid choice: 'gpu'" in capsys.readouterr().err
