"""Before Qt opens a window on Linux/X11: are the system libraries its xcb platform plugin needs there?

Qt aborts the process (exit 134, "Could not load the Qt platform plugin xcb") when one is missing, leaving
the log empty and the user with a C++ message. PyPI's PyQt6 wheels bring Qt but not these X11 libraries, which
a bare desktop or a container may lack (libxcb-cursor0 most often). This module (no Qt import: it runs
before Qt is loaded) names the missing ones and the packages that provide them, so the app can say so in
words, log it, and exit cleanly instead.

The list is what ``libqxcb.so`` and ``libQt6XcbQpa.so.6`` of the PyQt6 6.11 wheel need (``readelf -d``),
plus the system libraries of ``libQt6Gui`` (fontconfig, freetype, EGL, D-Bus), less the C and C++ runtimes.
"""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path
from typing import Callable, Iterable, Mapping, NamedTuple


class Library(NamedTuple):
    """A shared library by its soname, and the package that provides it on Debian/Ubuntu and on Fedora."""

    soname: str
    apt: str
    dnf: str


XCB_LIBRARIES = (
    Library("libxcb-cursor.so.0", "libxcb-cursor0", "xcb-util-cursor"),
    Library("libxcb-icccm.so.4", "libxcb-icccm4", "xcb-util-wm"),
    Library("libxcb-util.so.1", "libxcb-util1", "xcb-util"),
    Library("libxcb-image.so.0", "libxcb-image0", "xcb-util-image"),
    Library("libxcb-keysyms.so.1", "libxcb-keysyms1", "xcb-util-keysyms"),
    Library("libxcb-render-util.so.0", "libxcb-render-util0", "xcb-util-renderutil"),
    Library("libxcb-randr.so.0", "libxcb-randr0", "libxcb"),
    Library("libxcb-render.so.0", "libxcb-render0", "libxcb"),
    Library("libxcb-shape.so.0", "libxcb-shape0", "libxcb"),
    Library("libxcb-shm.so.0", "libxcb-shm0", "libxcb"),
    Library("libxcb-sync.so.1", "libxcb-sync1", "libxcb"),
    Library("libxcb-xfixes.so.0", "libxcb-xfixes0", "libxcb"),
    Library("libxcb-xkb.so.1", "libxcb-xkb1", "libxcb"),
    Library("libxcb.so.1", "libxcb1", "libxcb"),
    Library("libxkbcommon.so.0", "libxkbcommon0", "libxkbcommon"),
    Library("libxkbcommon-x11.so.0", "libxkbcommon-x11-0", "libxkbcommon-x11"),
    Library("libX11-xcb.so.1", "libx11-xcb1", "libX11-xcb"),
    Library("libX11.so.6", "libx11-6", "libX11"),
    Library("libGL.so.1", "libgl1", "libglvnd-glx"),
    Library("libEGL.so.1", "libegl1", "libglvnd-egl"),
    Library("libglib-2.0.so.0", "libglib2.0-0", "glib2"),
    Library("libgthread-2.0.so.0", "libglib2.0-0", "glib2"),
    Library("libfontconfig.so.1", "libfontconfig1", "fontconfig"),
    Library("libfreetype.so.6", "libfreetype6", "freetype"),
    Library("libdbus-1.so.3", "libdbus-1-3", "dbus-libs"),
)

Loader = Callable[[str], bool]  # soname -> whether it loads


def uses_xcb(env: Mapping[str, str], platform: str = sys.platform) -> bool:
    """Whether Qt will open its windows through X11 (the xcb plugin): on Linux with ``QT_QPA_PLATFORM`` set to
    xcb, or unset with an X display and no Wayland session (Qt then prefers its Wayland plugin)."""
    if not platform.startswith("linux"):
        return False
    chosen = env.get("QT_QPA_PLATFORM", "").strip()
    if chosen:
        return chosen.split(";")[0].split(":")[0] == "xcb"
    wayland = bool(env.get("WAYLAND_DISPLAY")) or env.get("XDG_SESSION_TYPE") == "wayland"
    return bool(env.get("DISPLAY")) and not wayland


def library_loads(soname: str, folders: Iterable[Path] = ()) -> bool:
    """Whether the dynamic linker finds ``soname`` (as Qt's plugin would), or it lies in one of ``folders``
    (a PyInstaller bundle keeps copies beside the app)."""
    for candidate in (soname, *(str(Path(folder) / soname) for folder in folders)):
        try:
            ctypes.CDLL(candidate)
            return True
        except OSError:
            continue
    return False


def _bundle_folders() -> list[Path]:
    """Where a frozen build keeps its own copies of shared libraries."""
    meipass = getattr(sys, "_MEIPASS", None)
    return [Path(meipass)] if meipass else []


def missing_libraries(loader: Loader | None = None, libraries: Iterable[Library] = XCB_LIBRARIES) -> list[Library]:
    """The ``libraries`` that ``loader`` cannot load (by default: the system's dynamic linker)."""
    if loader is None:
        folders = _bundle_folders()
        loader = lambda soname: library_loads(soname, folders)  # noqa: E731
    return [lib for lib in libraries if not loader(lib.soname)]


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


def describe_missing(missing: Iterable[Library]) -> str:
    """What to tell the user: the missing libraries, and the command that installs their packages."""
    missing = list(missing)
    apt, dnf = _unique(lib.apt for lib in missing), _unique(lib.dnf for lib in missing)
    return (
        "Liveness Studio cannot open its window: Qt needs system libraries that are not installed: "
        f"{', '.join(lib.soname for lib in missing)}.\n"
        "Install them, then start the app again:\n"
        f"  Debian/Ubuntu:  sudo apt-get install {' '.join(apt)}\n"
        f"  Fedora/RHEL:    sudo dnf install {' '.join(dnf)}\n"
        "(On other systems: the packages that provide these files.)"
    )


def check(env: Mapping[str, str] | None = None, platform: str = sys.platform, loader: Loader | None = None) -> str:
    """The message for the user when Qt's X11 plugin would fail for want of a library; "" when it will
    not use X11 or has all it needs."""
    if not uses_xcb(os.environ if env is None else env, platform):
        return ""
    missing = missing_libraries(loader)
    return describe_missing(missing) if missing else ""
