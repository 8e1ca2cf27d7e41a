"""Before Qt opens a window on X11, the app checks the system libraries Qt's xcb plugin needs: a missing one is
named with the packages to install, in the log and on the console, and the app exits cleanly instead of
Qt aborting it (exit 134, an empty log). The library finder is injected: no test depends on this machine."""

from __future__ import annotations

from pathlib import Path

import pytest

import liveness_app.__main__ as entry
from liveness_app import display_libs, paths
from liveness_app.display_libs import XCB_LIBRARIES, check, uses_xcb

X11 = {"DISPLAY": ":0"}


def all_but(*absent: str):
    """A library finder that finds everything except ``absent``."""
    return lambda soname: soname not in absent


@pytest.mark.parametrize(
    ("env", "platform", "expected"),
    [
        ({"DISPLAY": ":0"}, "linux", True),
        ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"}, "linux", True),
        ({"QT_QPA_PLATFORM": "xcb:nograb"}, "linux", True),  # xcb asked for by name, even without DISPLAY
        ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, "linux", False),
        ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "wayland;xcb"}, "linux", False),
        ({}, "linux", False),  # no display: Qt fails for another reason, which it states itself
        ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, "linux", False),  # Qt prefers its Wayland plugin
        ({"DISPLAY": ":0"}, "darwin", False),
        ({"DISPLAY": ":0"}, "win32", False),
    ],
)
def test_the_check_runs_only_where_qt_will_use_x11(env: dict[str, str], platform: str, expected: bool) -> None:
    assert uses_xcb(env, platform) is expected


def test_nothing_missing_says_nothing() -> None:
    assert check(X11, "linux", loader=all_but()) == ""
    assert len({lib.soname for lib in XCB_LIBRARIES}) == len(XCB_LIBRARIES) > 20
    assert check({}, "linux", loader=all_but("libxcb-cursor.so.0")) == ""  # not an X11 start: not checked


def test_a_missing_xcb_cursor_is_named_with_the_apt_and_dnf_lines() -> None:
    message = check(X11, "linux", loader=all_but("libxcb-cursor.so.0"))
    assert "libxcb-cursor.so.0" in message
    assert "sudo apt-get install libxcb-cursor0\n" in message
    assert "sudo dnf install xcb-util-cursor\n" in message


def test_a_package_that_provides_several_missing_libraries_is_listed_once() -> None:
    message = check(X11, "linux", loader=all_but("libglib-2.0.so.0", "libgthread-2.0.so.0", "libxcb-shm.so.0"))
    assert "libxcb-shm.so.0, libglib-2.0.so.0, libgthread-2.0.so.0." in message
    assert "sudo apt-get install libxcb-shm0 libglib2.0-0\n" in message
    assert "sudo dnf install libxcb glib2\n" in message


def test_the_default_finder_finds_the_c_library_and_not_a_made_up_one() -> None:
    assert display_libs.library_loads("libc.so.6")
    assert not display_libs.library_loads("libliveness-studio-no-such-library.so.9")


def test_the_app_says_what_is_missing_logs_it_and_exits_cleanly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(
        display_libs, "check", lambda: check(X11, "linux", loader=all_but("libxcb-cursor.so.0", "libxcb-icccm.so.4"))
    )
    assert entry.main([]) == entry.EXIT_MISSING_LIBRARIES  # returned, not aborted: no window was attempted

    err = capsys.readouterr().err
    assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4" in err
    assert str(paths.log_file()) in err
    log_text = paths.log_file().read_text()
    assert "ERROR" in log_text and "libxcb-cursor.so.0, libxcb-icccm.so.4" in log_text
    assert "sudo dnf install xcb-util-cursor xcb-util-wm" in log_text


def test_the_readme_quick_start_installs_every_package_the_check_knows() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    quick_start = readme.split("## Quick start", 1)[1].split("liveness-app\n", 1)[0]  # before the run command
    words = set(quick_start.replace("\\", " ").split())
    assert "apt-get" in words and "dnf" in words
    assert {lib.apt for lib in XCB_LIBRARIES} <= words
    assert {lib.dnf for lib in XCB_LIBRARIES} <= words
