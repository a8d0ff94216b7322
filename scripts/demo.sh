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

cleanup=()                # removed at the end
xvfb_pid_file=/dev/null   # see below
finish() {
  local pid
  pid="$(cat "$xvfb_pid_file" 2>/dev/null)" || true
  if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; fi
  rm -rf -- ${cleanup[@]+"${cleanup[@]}"}
}
trap finish EXIT
trap 'exit 129' HUP
trap 'exit 143' TERM

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
  # Xvfb quits on SIGINT: in the terminal's process group, Ctrl+C killed it under the window
  # ("The X11 connection broke (error 1)", exit 1). xvfb-run starts it through this wrapper, in a
  # session of its own, so Ctrl+C reaches the app alone (it closes the window, exit 130) and
  # xvfb-run stops Xvfb after it. The wrapper leaves Xvfb's pid for the trap above, which stops
  # it when xvfb-run could not (killed by SIGTERM or SIGHUP).
  shim="$(mktemp -d "${TMPDIR:-/tmp}/zb-xvfb.XXXXXX")"
  cleanup+=("$shim")
  xvfb_pid_file="$shim/Xvfb.pid"
  printf '#!/bin/sh\necho $$ > %q\nexec setsid %q "$@"\n' "$xvfb_pid_file" "$(command -v Xvfb)" > "$shim/Xvfb"
  chmod +x "$shim/Xvfb"
  # a screen larger than the window (1400x850), so all of it is on the virtual display
  PATH="$shim:$PATH" xvfb-run -a -s "-screen 0 1920x1080x24" "$APP" demo "$@"
  exit
fi
printf '==> no display and no xvfb-run: using the offscreen Qt platform\n' >&2
export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"
"$APP" demo "$@"
