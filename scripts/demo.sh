#!/usr/bin/env bash
# Install what is missing, then open the browser on the built-in demo dataset.
#
#   bash scripts/demo.sh [ARGS...]      (ARGS go to `zarr-browser demo`)
#
# Without a display (no DISPLAY / WAYLAND_DISPLAY) the browser runs under xvfb-run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/bootstrap.sh"

APP="$ROOT/.venv/bin/zarr-browser"

# --no-open only writes the dataset: no window, so no display either
case " $* " in
  *" --no-open "*) exec "$APP" demo "$@" ;;
esac

cleanup=()  # removed at the end
trap 'rm -rf -- ${cleanup[@]+"${cleanup[@]}"}' EXIT

# Qt wants a private runtime directory; make one when the session has none.
if [[ -z "${XDG_RUNTIME_DIR:-}" || ! -d "${XDG_RUNTIME_DIR}" ]]; then
  XDG_RUNTIME_DIR="$(mktemp -d "${TMPDIR:-/tmp}/zb-runtime.XXXXXX")"
  chmod 700 "$XDG_RUNTIME_DIR"
  export XDG_RUNTIME_DIR
  cleanup+=("$XDG_RUNTIME_DIR")
fi
if [[ -n "${DISPLAY:-}" || -n "${WAYLAND_DISPLAY:-}" ]]; then
  "$APP" demo "$@"
  exit
fi
if command -v xvfb-run >/dev/null 2>&1; then
  printf '==> no display: the window runs on a virtual display (xvfb-run); stop it with Ctrl+C.\n' >&2
  printf '    For a text view instead: %s info ~/.cache/zarr-browser/demo/cells.ome.zarr\n' "$APP" >&2
  # a screen larger than the window (1400x850), so all of it is on the virtual display
  xvfb-run -a -s "-screen 0 1920x1080x24" "$APP" demo "$@"
  exit
fi
printf '==> no display and no xvfb-run: using the offscreen Qt platform\n' >&2
export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"
"$APP" demo "$@"
