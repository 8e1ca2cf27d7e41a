#!/usr/bin/env bash
# Build the one-folder app with PyInstaller, run the bundle's self-test, and report its size.
#
#   scripts/build_bundle.sh          # full app     -> dist/liveness-studio/      and dist/bundle-report.txt
#   scripts/build_bundle.sh --lean   # no torch     -> dist/liveness-studio-lean/ and dist/bundle-report-lean.txt
#
# Needs pyinstaller on PATH (pip install -e ".[package]") and models/default.pt (models/default.onnx for
# the lean runtime). Exits non-zero when the
# build or the self-test fails. The self-test runs headless (Qt offscreen) with a throwaway user data
# folder, so it needs no display and leaves the real one alone; where the app has no stdout (a windowed
# build on Windows or macOS) its line is read back from that folder's logs/self-test.log.
set -euo pipefail
cd "$(dirname "$0")/.."

NAME=liveness-studio
REPORT=dist/bundle-report.txt
SPEC_ARGS=()
if [ "${1:-}" = "--lean" ]; then
    NAME=liveness-studio-lean
    REPORT=dist/bundle-report-lean.txt
    SPEC_ARGS=(-- --lean)
elif [ $# -gt 0 ]; then
    echo "usage: $0 [--lean]" >&2
    exit 2
fi
APP_DIR=dist/$NAME

if ! command -v pyinstaller >/dev/null; then
    echo "pyinstaller not found: activate the project's venv and pip install -e '.[package]'" >&2
    exit 2
fi
start=$(date +%s)
pyinstaller --noconfirm build.spec "${SPEC_ARGS[@]}"
build_s=$(( $(date +%s) - start ))

app=$APP_DIR/$NAME
[ -f "$app.exe" ] && app=$app.exe
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT

set +e
out=$(LIVENESS_STUDIO_HOME="$home" QT_QPA_PLATFORM=offscreen "$app" --self-test 2>"$home/stderr.txt")
status=$?
set -e
line=$({ printf '%s\n' "$out"; cat "$home/logs/self-test.log" 2>/dev/null; } | grep -h "SELF-TEST" | tail -n 1 || true)

{
    echo "Liveness Studio bundle: $APP_DIR"
    echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -sm) in ${build_s} s with PyInstaller $(pyinstaller --version)"
    echo "self-test exit code: $status"
    echo "${line:-no SELF-TEST line was printed}"
    echo "size: $(du -sh "$APP_DIR" | cut -f1)"
    echo
    echo "10 largest entries of $APP_DIR/_internal:"
    # awk, not head: head would stop reading, and pipefail would turn the writer's SIGPIPE into a failure
    (cd "$APP_DIR/_internal" && du -sh -- * | sort -rh | awk 'NR <= 10')
    echo
    echo "10 largest files:"
    find "$APP_DIR" -type f -exec du -k {} + | sort -rn |
        awk 'NR <= 10 { kb = $1; $1 = ""; printf "%8.1f MB %s\n", kb / 1024, $0 }'
} | tee "$REPORT"

if [ "$status" -ne 0 ] || [[ "$line" != "SELF-TEST OK"* ]]; then
    echo "self-test failed; its stderr ends with:" >&2
    tail -n 30 "$home/stderr.txt" >&2
    exit 1
fi
