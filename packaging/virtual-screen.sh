# Sourced by run-demo on a machine without a display: a virtual X screen for the window.
#
# start_virtual_screen starts Xvfb on a free display number, with openbox as its window manager
# (the window's dialogs, focus and urgency need one), and exports DISPLAY and XAUTHORITY for it.
# Only this user can draw on or look at that screen: it takes an X cookie kept in a 0700 folder.
# When x11vnc is installed, the screen is also served over VNC on this machine only, behind a
# one-time password. watch_for_window saves a picture of the screen once the window is up, and
# stop_virtual_screen ends all of it. Each step waits a bounded time and says what went wrong.

screen_size=${DEPLOYCENTER_SCREEN_SIZE:-1600x1000}
screen_pids=()
screen_dir=

start_virtual_screen() {
  screen_dir=$(mktemp -d "${TMPDIR:-/tmp}/deploycenter-screen.XXXXXX")
  export XAUTHORITY="$screen_dir/Xauthority"
  local cookie number
  cookie=$(mcookie)
  : >"$XAUTHORITY"  # xauth warns about a file it has to create
  # The server accepts every cookie in its file, whatever display the entry names: the display
  # number is known only once Xvfb has picked it, and the clients' entry is added then.
  xauth -q -f "$XAUTHORITY" add :0 . "$cookie"
  # setsid: Ctrl-C in the terminal reaches the window, which closes cleanly, and not the screen
  # under it; stop_virtual_screen ends the screen afterwards.
  setsid Xvfb -displayfd 3 -auth "$XAUTHORITY" -screen 0 "${screen_size}x24" -nolisten tcp \
    3>"$screen_dir/display" >"$screen_dir/xvfb.log" 2>&1 &
  screen_pids+=($!)
  if ! wait_for_file "$screen_dir/display" "${screen_pids[0]}"; then
    cat "$screen_dir/xvfb.log" >&2
    echo "run-demo: the virtual screen (Xvfb) did not start; its output is above" >&2
    return 1
  fi
  number=$(tr -d '[:space:]' <"$screen_dir/display")
  xauth -q -f "$XAUTHORITY" add ":$number" . "$cookie"
  export DISPLAY=":$number"
  export QT_QPA_PLATFORM=xcb  # that screen, whatever platform the caller's environment names
  setsid openbox >"$screen_dir/openbox.log" 2>&1 &
  screen_pids+=($!)
  echo "run-demo: no display here, so the window opens on a virtual screen: DISPLAY=$DISPLAY" \
       "(Xvfb $screen_size with openbox)" >&2
  if command -v x11vnc >/dev/null 2>&1; then
    serve_over_vnc
  else
    echo "run-demo: to see and use it, install x11vnc (packaging/dev-setup does) and run this again" >&2
  fi
}

serve_over_vnc() {
  local password port
  password=$(mcookie | head -c 8)  # VNC reads at most eight characters of a password
  x11vnc -storepasswd "$password" "$screen_dir/vnc-password" >/dev/null 2>&1
  setsid x11vnc -display "$DISPLAY" -auth "$XAUTHORITY" -localhost -autoport 5900 \
    -rfbauth "$screen_dir/vnc-password" -forever -shared -quiet >"$screen_dir/vnc.log" 2>&1 &
  screen_pids+=($!)
  if ! wait_for_line "$screen_dir/vnc.log" '^PORT=' "$!"; then
    echo "run-demo: x11vnc did not start (its log: $screen_dir/vnc.log); the screen cannot be seen live" >&2
    return 0
  fi
  port=$(sed -n 's/^PORT=//p' "$screen_dir/vnc.log" | head -n 1)
  echo "run-demo: see and use it with a VNC viewer at localhost:$port, password $password" \
       "(from another machine: ssh -L $port:localhost:$port $(hostname), then the same address there)" >&2
}

# Saves a picture of the screen once a Deploy Center window is on it (the welcome dialog or the
# main window), in the background: the window is being started meanwhile.
watch_for_window() {
  local picture=$1
  mkdir -p "$(dirname "$picture")"
  (
    for _ in $(seq 600); do
      if xwininfo -root -tree 2>/dev/null | grep -q '"[^"]*Deploy Center'; then
        sleep 2  # the window is mapped; its first paint follows within moments
        if .venv/bin/python packaging/grab-screen.py "$picture" 2>/dev/null; then
          echo "run-demo: the window is up; a picture of the screen: $picture" \
               "(again: DISPLAY=$DISPLAY XAUTHORITY=$XAUTHORITY .venv/bin/python packaging/grab-screen.py FILE.png)" >&2
        else
          echo "run-demo: the window is up, but no picture of the screen could be taken" >&2
        fi
        exit 0
      fi
      sleep 0.1
    done
  ) &
  screen_pids+=($!)
}

stop_virtual_screen() {
  local pid
  for pid in "${screen_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${screen_pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  screen_pids=()
  if [ -n "$screen_dir" ]; then rm -rf "$screen_dir"; fi
}

# Waits up to 20 s until FILE is not empty; fails early when process PID has ended.
wait_for_file() {
  local file=$1 pid=$2
  for _ in $(seq 200); do
    if [ -s "$file" ]; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    sleep 0.1
  done
  return 1
}

# Waits up to 20 s until FILE has a line matching PATTERN; fails early when process PID has ended.
wait_for_line() {
  local file=$1 pattern=$2 pid=$3
  for _ in $(seq 200); do
    if grep -q "$pattern" "$file" 2>/dev/null; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    sleep 0.1
  done
  return 1
}
