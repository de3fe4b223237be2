#!/usr/bin/env bash
# Real-editor tests: GIMP 3.0 and Krita 5.2 from Debian trixie, run headless in a chroot (needs root).
#   tests/editors/run_editor_tests.sh [gimp] [krita] [screenshots]     (default: gimp krita)
# DEEPFLASH_EDITOR_WEIGHTS=FILE serves that model instead of the tiny random one (e.g. the shipped model,
# to see real-sized differences between documents of different depths).
# "screenshots" runs the GUI editors under Xvfb and refreshes docs/gimp_dialog.png and docs/krita_docker.png
# (the whole windows after a correction): the server then listens on the default address, which the
# screenshots show, so nothing else may answer there.
# Builds or reuses the cached root (tests/editors/chroot.sh), installs the plug-ins into the root's
# HOME with `deepflash install` as a user would, starts a DeepFlash server with a tiny random model on
# a free port of the host loopback (the chroot shares the host's network; other servers may run there),
# runs each editor over the cases of host_side.py, and checks the results on the host. Timings of every
# phase are printed at the end.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$repo"  # the server and `deepflash` run from the source tree
PY="${DEEPFLASH_PYTHON:-$repo/.venv/bin/python}"
editors=("$@")
[ ${#editors[@]} -gt 0 ] || editors=(gimp krita)
[ "$(id -u)" = 0 ] || { echo "run_editor_tests.sh: needs root (chroot, mount)" >&2; exit 2; }

# shellcheck source=chroot.sh
. "$here/chroot.sh"
WORK_IN=/tmp/deepflash-editors
WORK="$EDITORS_ROOT$WORK_IN"
TEST_HOME=/home/deepflash-test  # the user's HOME inside the root
ADDRESS=""  # the test server's, on a port picked when it starts
EDITOR_TIMEOUT=600  # a hung editor (a modal dialog in headless mode) must not hang CI
server_pid=""
screenshots=0
for editor in "${editors[@]}"; do if [ "$editor" = screenshots ]; then screenshots=1; fi; done
background=()  # GUI processes of the screenshot run
timings=()
phase_start=$SECONDS
phase() { timings+=("$(printf '%-22s %4d s' "$1" $((SECONDS - phase_start)))"); phase_start=$SECONDS; }

# SIGTERM first, SIGKILL after a grace period.
stop() {
    kill "$1" 2>/dev/null || return 0
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$1" 2>/dev/null || return 0; sleep 0.5; done
    kill -9 "$1" 2>/dev/null || true
}

cleanup() {
    local pid
    for pid in "${background[@]}"; do stop "$pid"; wait "$pid" 2>/dev/null || true; done
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    editors_unmount
}
trap cleanup EXIT
trap 'exit 143' TERM INT HUP  # a signal must also run the cleanup (unmount, stop what was started)

deepflash() { env -u XDG_CONFIG_HOME -u XDG_DATA_HOME HOME="$EDITORS_ROOT$TEST_HOME" \
    "$PY" -c "from deepflash_app.cli import main; main()" "$@"; }

editors_build
phase "chroot (build/reuse)"
editors_mount
rm -rf "$WORK" "$EDITORS_ROOT$TEST_HOME"  # a fresh user: no settings, logs or editor state from earlier runs
mkdir -p "$WORK" "$EDITORS_ROOT$TEST_HOME"
"$PY" "$here/host_side.py" prepare "$WORK"
cp "$here/gimp_batch.py" "$here/krita_batch.py" "$here/editor_side.py" "$WORK/"

# Start the test server on a port the system reports free. Another process may take the port between
# the pick and the bind; then the server exits (or someone else answers) and a new port is tried.
start_server() {
    local port
    if [ $screenshots = 1 ]; then
        port=$("$PY" -c 'from deepflash_client.protocol import DEFAULT_PORT; print(DEFAULT_PORT)')
    else
        port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    fi
    ADDRESS="tcp://127.0.0.1:$port"
    DEEPFLASH_STATE_DIR="$WORK/state" "$PY" -m deepflash_app serve --bind "$ADDRESS" --weights "${DEEPFLASH_EDITOR_WEIGHTS:-$WORK/tiny.safetensors}" \
        --device cpu --workers 1 >"$WORK/server.out" 2>&1 &
    server_pid=$!
    "$PY" - "$ADDRESS" "$server_pid" "$WORK/server.out" <<'PYEOF'
import os, sys, time
sys.path.insert(0, ".")
from deepflash_client.zmq_client import DeepFlashClient
from deepflash_client.errors import ServerUnavailableError
address, pid = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 180
while True:
    try:
        reply = DeepFlashClient(address, timeout_s=2, retries=0).ping()
        if reply.get("pid") != pid:
            print(f"{address} is answered by another process (pid {reply.get('pid')})")
            sys.exit(3)
        if reply["state"] == "failed":
            sys.exit("the test server could not load its model; see server.out")
        if reply["state"] == "ready":  # the model is loaded: the first case is not slower than the rest
            print(f"server ready at {address}")
            break
    except ServerUnavailableError:
        pass
    if time.monotonic() > deadline:
        sys.exit("the test server did not start; see server.out")
    try:
        os.kill(pid, 0)
    except OSError:
        with open(sys.argv[3]) as log:
            print(f"the test server exited (port taken?): {log.read()[-300:]}")
        sys.exit(3)
    time.sleep(0.5)
PYEOF
}
for attempt in 1 2 3; do
    server_status=0
    start_server || server_status=$?
    [ $server_status = 3 ] && [ $screenshots = 0 ] || break
    kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; server_pid=""
done
[ $server_status = 0 ] || exit 1
"$PY" "$here/host_side.py" cases "$WORK" "$ADDRESS"
phase "fixtures + server"

for editor in gimp krita; do deepflash install "$editor" --address "$ADDRESS"; done
phase "deepflash install"

ROOT_ENV=(env HOME="$TEST_HOME" DEEPFLASH_EDITOR_WORK="$WORK_IN" DISPLAY=:77)
in_root() { chroot "$EDITORS_ROOT" "${ROOT_ENV[@]}" "$@"; }
# GUI editors are started directly (not through a function, which would fork a subshell) so that $! is
# the editor itself: chroot and env exec it.

take_screenshots() {
    local lock="$EDITORS_ROOT/tmp/.X77-lock"
    if [ -e "$lock" ]; then
        if kill -0 "$(tr -d ' ' <"$lock")" 2>/dev/null; then
            echo "display :77 is in use by process $(tr -d ' ' <"$lock"); stop it first" >&2
            return 1
        fi
        rm -f "$lock" "$EDITORS_ROOT/tmp/.X11-unix/X77"  # left by an Xvfb that was killed
    fi
    chroot "$EDITORS_ROOT" "${ROOT_ENV[@]}" Xvfb :77 -screen 0 1400x900x24 -nolisten tcp -noreset >"$WORK/xvfb.log" 2>&1 &
    background+=($!)
    sleep 2
    cp "$here/gimp_dialog.py" "$WORK/"
    rm -f "$WORK/gimp_first_run.json"
    chroot "$EDITORS_ROOT" "${ROOT_ENV[@]}" gimp-3.0 --no-splash --batch-interpreter=python-fu-eval \
        -b "exec(open('$WORK_IN/gimp_dialog.py').read())" >"$WORK/gimp-gui.log" 2>&1 &
    background+=($!)
    local window="" main="" tries
    # The image window, as wide as the screen so the status bar's message fits (no window manager here).
    for tries in $(seq 120); do
        main=$(in_root xdotool search --onlyvisible --name " GIMP$" 2>/dev/null | head -1) && [ -n "$main" ] && break
        sleep 1
    done
    [ -n "$main" ] || { echo "the GIMP image window did not appear; see $WORK/gimp-gui.log" >&2; return 1; }
    in_root xdotool windowmove "$main" 0 0 windowsize "$main" 1400 900
    for tries in $(seq 240); do [ -f "$WORK/gimp_first_run.json" ] && break; sleep 0.5; done
    echo "GIMP's first run: $(cat "$WORK/gimp_first_run.json" 2>/dev/null)"
    for tries in $(seq 120); do
        window=$(in_root xdotool search --onlyvisible --name "Flash to Studio" 2>/dev/null | head -1) && [ -n "$window" ] && break
        sleep 0.5
    done
    [ -n "$window" ] || { echo "the GIMP dialog did not appear; see $WORK/gimp-gui.log" >&2; return 1; }
    # Beside the photo, leaving the menus, the tools and the layers panel in view.
    in_root xdotool windowmove "$window" 740 470
    sleep 2  # let GTK finish drawing (GIMP's status bar message stays a few seconds)
    in_root sh -c "xwd -silent -root | xwdtopnm 2>/dev/null | pnmtopng -compression 9" >"$repo/docs/gimp_dialog.png"
    echo "wrote docs/gimp_dialog.png"
    "$PY" - "$WORK/gimp_first_run.json" <<'PYEOF' || return 1
import json, sys
run = json.load(open(sys.argv[1]))
assert run["status"] == "GIMP_PDB_SUCCESS" and run["layers"][0] == "Studio light (DeepFlash)", run
print("gimp GUI: the filter added the layer: PASS")
PYEOF
    stop "${background[-1]}"
    # Krita: a helper extension shows the docker, presses Apply and grabs it (tests/editors/krita_screenshot).
    cp -r "$here/krita_screenshot/." "$EDITORS_ROOT$TEST_HOME/.local/share/krita/pykrita/"
    sed -i 's/^\[python\]$/[python]\nenable_deepflash_screenshot=true/' "$EDITORS_ROOT$TEST_HOME/.config/kritarc"
    rm -f "$WORK/screenshots.done"
    chroot "$EDITORS_ROOT" "${ROOT_ENV[@]}" krita --nosplash >"$WORK/krita-gui.log" 2>&1 &
    background+=($!)
    for tries in $(seq 240); do [ -f "$WORK/screenshots.done" ] && break; sleep 1; done
    if [ ! -f "$WORK/screenshots.done" ]; then
        in_root sh -c "xwd -silent -root | xwdtopnm 2>/dev/null | pnmtopng" >"$WORK/krita_failure.png" || true
        echo "Krita did not take its screenshot; see $WORK/krita-gui.log and krita_failure.png" >&2
        return 1
    fi
    cp "$WORK/krita_window.png" "$repo/docs/krita_docker.png"
    echo "wrote docs/krita_docker.png; the docker's run: $(cat "$WORK/screenshots.done")"
    "$PY" - "$WORK/screenshots.done" <<'PYEOF' || return 1
import json, sys
run = json.load(open(sys.argv[1]))
assert run["layers"] == ["Background", "Studio light (DeepFlash)"], run
assert run["layers_after_one_undo"] == ["Background"], f"one Ctrl+Z should remove the result: {run}"
assert run["reference"].startswith("reference.png"), run
assert run["message"].startswith("Corrected 1 face"), run
print("krita GUI: Apply with another document's look added one layer; one undo removed it: PASS")
for masked in run["masked"]:
    added = dict(masked["after_apply"])
    assert len(added) == len(masked["before"]) + 1 and "Studio light (DeepFlash)" in added, masked
    assert added["Studio light (DeepFlash)"], f"the result has no mask: {masked}"
    assert masked["after_one_undo"] == masked["before"], f"one Ctrl+Z should remove the result and its mask: {masked}"
    print(f"krita GUI, {masked['case']}: the result came with its mask {added['Studio light (DeepFlash)']}; "
          f"one undo removed both: PASS")
PYEOF
    stop "${background[-1]}"
    rm -rf "$EDITORS_ROOT$TEST_HOME/.local/share/krita/pykrita/deepflash_screenshot"*
    sed -i '/^enable_deepflash_screenshot=/d' "$EDITORS_ROOT$TEST_HOME/.config/kritarc"
}

for editor in "${editors[@]}"; do
    case $editor in
        gimp)
            timeout "$EDITOR_TIMEOUT" chroot "$EDITORS_ROOT" env HOME="$TEST_HOME" DEEPFLASH_EDITOR_WORK="$WORK_IN" gimp-console-3.0 -i \
                --batch-interpreter=python-fu-eval -b "exec(open('$WORK_IN/gimp_batch.py').read())" --quit \
                >"$WORK/gimp.log" 2>&1 || echo "gimp-console exited with $?"
            grep -E "^gimp case|Traceback|Error" "$WORK/gimp.log" || true
            ;;
        krita)
            timeout "$EDITOR_TIMEOUT" chroot "$EDITORS_ROOT" env HOME="$TEST_HOME" DEEPFLASH_EDITOR_WORK="$WORK_IN" QT_QPA_PLATFORM=offscreen \
                PYTHONPATH="$WORK_IN" kritarunner -s krita_batch -f main >"$WORK/krita.log" 2>&1 \
                || echo "kritarunner exited with $?"
            grep -E "^krita case|Traceback|Error" "$WORK/krita.log" || true
            ;;
        screenshots) take_screenshots ;;
        *) echo "unknown editor $editor" >&2; exit 2 ;;
    esac
    phase "$editor run"
done

status=0
checked=()
for editor in "${editors[@]}"; do [ "$editor" = screenshots ] || checked+=("$editor"); done
if [ ${#checked[@]} -gt 0 ]; then
    "$PY" "$here/host_side.py" check "$WORK" "${checked[@]}" || status=$?
    phase "checks"
fi
# The run's own server goes first, and the test HOME's leftovers with the plug-ins: the uninstall then has
# nothing of the run to report.
if [ -n "$server_pid" ]; then stop "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""; fi
for editor in gimp krita; do deepflash install "$editor" --uninstall --purge; done
echo "timings:"; printf '  %s\n' "${timings[@]}"
echo "logs and dumps: $WORK (server.out, gimp.log, krita.log, out/)"
exit $status
