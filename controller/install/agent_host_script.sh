#!/bin/sh
# The host side of `mlcube-remote agent ...`: installs, starts, stops and
# removes one user's mlcube-agent (MODE user) or the system agent (MODE
# system). The controller sends this script over SSH and runs it as
#   /bin/sh -s -- ACTION MODE [ARGS...]        (system: through `sudo -n`)
# It prints one line per fact, read by the controller:
#   say TEXT        what was done, shown to the user as is
#   kv KEY=VALUE    a value for the controller (probe, ensure, status)
#   error TEXT      why it stopped (exit status 3)
# Every step is idempotent: running `setup` twice changes nothing the second
# time. POSIX sh only; GNU or busybox userland (Debian, Ubuntu, RHEL/Rocky).
#
# Actions:
#   probe [VERSION]                    the host, the user, what is installed and running
#   setup VERSION SHA256 UPLOAD|-      unpack UPLOAD (verified) as VERSION, make it current,
#                                      write the config (and unit), start or restart the agent
#   ensure VERSION                     start the installed agent if it is not running
#   status | stop | uninstall

set -u
umask 077

say() { printf 'say %s\n' "$*"; }
kv() { printf 'kv %s=%s\n' "$1" "$2"; }
fail() {
  printf 'error %s\n' "$*"
  exit 3
}

layout() {
  case $MODE in
    system)
      # Root installs what the service user must read and run.
      umask 022
      LIB=/usr/local/lib/mlcube-remote
      CONFIG=/etc/mlcube-agent/agent.yaml
      STATE=/var/lib/mlcube-agent
      SOCKET=/run/mlcube-agent/agent.sock
      UNIT=/etc/systemd/system/mlcube-agent.service
      SERVICE_USER=mlcube-agent
      PIDFILE=
      LOG=
      ;;
    user)
      [ -n "${HOME:-}" ] && [ -d "$HOME" ] || fail "HOME is not set or not a directory"
      case $HOME in
        *[!A-Za-z0-9._/@+-]*) fail "HOME ($HOME) has characters the agent config cannot hold" ;;
      esac
      LIB=$HOME/.local/lib/mlcube-remote
      CONFIG=$HOME/.config/mlcube-agent/agent.yaml
      STATE=$HOME/.local/state/mlcube-remote
      UNIT=$HOME/.config/systemd/user/mlcube-agent.service
      PIDFILE=$STATE/agent.pid
      LOG=$STATE/agent.log
      if [ -f "$STATE/socket" ]; then
        SOCKET=$(cat "$STATE/socket")
      else
        SOCKET=$STATE/agent.sock
      fi
      ;;
    *) fail "unknown mode '$MODE'" ;;
  esac
}

has_user_systemd() {
  [ "$MODE" = user ] && command -v systemctl >/dev/null 2>&1 &&
    systemctl --user show-environment >/dev/null 2>&1
}

# A user service only with lingering: without it systemd stops the user's
# manager at logout and kills the agent's running tasks with it, while a
# detached process outlives the session (logind's default
# KillUserProcesses=no).
want_user_systemd() {
  has_user_systemd && [ -e "/var/lib/systemd/linger/$(id -un)" ]
}

# systemctl for this mode.
sctl() {
  if [ "$MODE" = system ]; then systemctl "$@"; else systemctl --user "$@"; fi
}

# How the agent is run here: systemd (a unit exists) or detached.
manager() {
  if [ -f "$UNIT" ]; then echo systemd; else echo detached; fi
}

# The agent's pid when it runs, else nothing.
agent_pid() {
  if [ "$(manager)" = systemd ]; then
    pid=$(sctl show -p MainPID mlcube-agent.service 2>/dev/null | sed -n 's/^MainPID=//p')
    [ -n "$pid" ] && [ "$pid" != 0 ] && echo "$pid"
  elif [ -f "$PIDFILE" ]; then
    pid=$(cat "$PIDFILE")
    case $pid in '' | *[!0-9]*) return 0 ;; esac
    kill -0 "$pid" 2>/dev/null && grep -q mlcube-agent "/proc/$pid/cmdline" 2>/dev/null &&
      echo "$pid"
  fi
  return 0
}

# The version a running agent was started from (its launcher's directory).
running_version() {
  tr '\0' '\n' <"/proc/$1/environ" 2>/dev/null |
    sed -n 's|^MLCUBE_AGENT_SELF=.*/\([^/]*\)/bin/mlcube-agent$|\1|p'
}

current_version() {
  [ -L "$LIB/current" ] && basename "$(readlink "$LIB/current")"
  return 0
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d' ' -f1
  else
    openssl dgst -sha256 -r "$1" | cut -d' ' -f1
  fi
}

do_probe() {
  kv os "$(uname -s)"
  kv arch "$(uname -m)"
  if [ -r /etc/os-release ]; then
    kv os_id "$(. /etc/os-release && echo "${ID:-}")"
    kv os_version "$(. /etc/os-release && echo "${VERSION_ID:-}")"
  fi
  kv user "$(id -un)"
  kv uid "$(id -u)"
  kv home "${HOME:-}"
  if [ "$(id -u)" = 0 ]; then kv sudo root; elif sudo -n true 2>/dev/null; then kv sudo yes; else kv sudo no; fi
  if [ -d /run/systemd/system ]; then kv systemd yes; else kv systemd no; fi
  if has_user_systemd; then kv user_systemd yes; else kv user_systemd no; fi
  if [ -e "/var/lib/systemd/linger/$(id -un)" ]; then kv linger yes; else kv linger no; fi
  # The container engines on the agent user's PATH (the agent finds them the same way).
  engines=
  for engine in docker podman apptainer singularity; do
    command -v "$engine" >/dev/null 2>&1 && engines="$engines${engines:+ }$engine"
  done
  kv engines "$engines"
  # The installed bundle of the version the controller brings, if any.
  if [ $# -ge 1 ] && [ -f "$LIB/$1/.bundle-sha256" ]; then
    kv wanted_sha256 "$(cat "$LIB/$1/.bundle-sha256")"
  fi
  report
}

# What is installed and running (status and probe).
report() {
  installed=
  for dir in "$LIB"/*; do
    [ -L "$dir" ] && continue
    [ -f "$dir/.bundle-sha256" ] && installed="$installed${installed:+ }$(basename "$dir")"
  done
  kv installed "$installed"
  kv current "$(current_version)"
  v=$(current_version)
  [ -n "$v" ] && [ -f "$LIB/$v/.bundle-sha256" ] && kv bundle_sha256 "$(cat "$LIB/$v/.bundle-sha256")"
  kv manager "$(manager)"
  kv socket "$SOCKET"
  kv state_dir "$STATE"
  pid=$(agent_pid)
  if [ -n "$pid" ]; then
    kv pid "$pid"
    kv running_version "$(running_version "$pid")"
  fi
  return 0
}

# Unpacks the uploaded bundle as LIB/VERSION (verified, atomic) unless that
# exact bundle is there already.
install_bundle() {
  version=$1 sha=$2 upload=$3
  if [ -f "$LIB/$version/.bundle-sha256" ] && [ "$(cat "$LIB/$version/.bundle-sha256")" = "$sha" ]; then
    say "bundle $version already in $LIB/$version"
    [ "$upload" = - ] || remove_upload "$upload"
    return 0
  fi
  [ "$upload" != - ] || fail "bundle $version is not installed and nothing was uploaded"
  [ -f "$upload" ] || fail "the uploaded bundle $upload is missing"
  got=$(sha256_of "$upload")
  [ "$got" = "$sha" ] || fail "the uploaded bundle is damaged (sha256 $got, expected $sha)"
  mkdir -p "$LIB" || fail "cannot create $LIB"
  tmp=$LIB/.unpack-$version-$$
  rm -rf "$tmp" && mkdir "$tmp" || fail "cannot create $tmp"
  tar -xzf "$upload" -C "$tmp" --strip-components=1 </dev/null || fail "cannot unpack the bundle into $tmp"
  remove_upload "$upload"
  (cd "$tmp" && sha256_check SHA256SUMS) || {
    rm -rf "$tmp"
    fail "the bundle's files do not match its SHA256SUMS"
  }
  out=$("$tmp/bin/mlcube-agent" --version </dev/null 2>&1)
  [ "$out" = "mlcube-agent $version" ] || {
    rm -rf "$tmp"
    fail "the bundled agent does not run here: $out"
  }
  printf '%s\n' "$sha" >"$tmp/.bundle-sha256"
  [ "$MODE" = system ] && chmod -R go+rX "$tmp"
  if [ -d "$LIB/$version" ]; then
    # Same version, other bytes (a rebuilt development bundle): replace it;
    # running processes keep the files they mapped.
    mv "$LIB/$version" "$LIB/.old-$version-$$" && rm -rf "$LIB/.old-$version-$$"
  fi
  mv "$tmp" "$LIB/$version" || fail "cannot move the bundle to $LIB/$version"
  RESTART=yes
  say "installed the agent bundle $version into $LIB/$version ($(du -sh "$LIB/$version" | cut -f1))"
}

# The upload and the private directory it came in.
remove_upload() {
  rm -f "$1"
  rmdir "$(dirname "$1")" 2>/dev/null
  return 0
}

sha256_check() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum -c --quiet "$1" >/dev/null 2>&1
  else
    while read -r sum file; do
      [ "$(sha256_of "$file")" = "$sum" ] || return 1
    done <"$1"
  fi
}

make_current() {
  version=$1
  if [ "$(current_version)" = "$version" ]; then return 0; fi
  ln -sfn "$version" "$LIB/.current-$$" && mv -Tf "$LIB/.current-$$" "$LIB/current" ||
    fail "cannot point $LIB/current at $version"
  say "$LIB/current -> $version"
}

# Writes FILE from stdin unless it already holds exactly that.
write_if_changed() {
  file=$1 what=$2
  content=$(cat)
  # Compared before anything is written, so an unchanged file leaves its
  # directory untouched too.
  if [ -f "$file" ] && [ "$(cat "$file")" = "$content" ]; then
    say "$what unchanged: $file"
    return 1
  fi
  mkdir -p "$(dirname "$file")" || fail "cannot create $(dirname "$file")"
  printf '%s\n' "$content" >"$file.new-$$" && mv -f "$file.new-$$" "$file" || fail "cannot write $file"
  say "wrote $what: $file"
  return 0
}

write_config() {
  if [ "$MODE" = user ]; then
    if want_user_systemd && [ -n "${XDG_RUNTIME_DIR:-}" ] && [ -d "$XDG_RUNTIME_DIR" ]; then
      SOCKET=$XDG_RUNTIME_DIR/mlcube-agent.sock
    else
      SOCKET=$STATE/agent.sock
    fi
    mkdir -p "$STATE" && chmod 0700 "$STATE" || fail "cannot create $STATE"
    [ "$(cat "$STATE/socket" 2>/dev/null)" = "$SOCKET" ] || printf '%s\n' "$SOCKET" >"$STATE/socket"
    write_if_changed "$CONFIG" "agent config" <<EOF
# Written by \`mlcube-remote agent install\`: this user's own agent.
listen: ["unix://$SOCKET"]
state_dir: "$STATE"
unix_socket: {mode: "0600"}
EOF
  else
    # The service user reads it (an earlier run may have left it private).
    mkdir -p /etc/mlcube-agent && chmod 0755 /etc/mlcube-agent
    [ -f "$CONFIG" ] && chmod 0644 "$CONFIG"
    write_if_changed "$CONFIG" "agent config" <<EOF
# Written by \`mlcube-remote agent install --system\`.
listen: ["unix://$SOCKET"]
state_dir: "$STATE"
EOF
  fi
}

write_user_unit() {
  write_if_changed "$UNIT" "systemd user unit" <<EOF
# Written by \`mlcube-remote agent install\`: this user's mlcube-agent.
[Unit]
Description=mlcube-agent of this user (mlcube-remote)

[Service]
Type=simple
ExecStart=$LIB/current/bin/mlcube-agent serve --config=$CONFIG
# Tasks run detached under \`mlcube-agent supervise\`: a restart or an
# upgrade must not kill them; the new agent re-attaches.
KillMode=process
Restart=on-failure
RestartSec=2s

[Install]
WantedBy=default.target
EOF
}

# The unit the Debian package installs (tools/mlcube-agent.service), placed
# here by the build: one unit file, hardening and all, for both ways in.
system_unit_template() {
  cat <<'UNIT'
@MLCUBE_AGENT_SYSTEM_UNIT@
UNIT
}

# The package's unit with this install's paths: the bundle's binary and
# config, the service user, docker's group only where the host has one.
write_system_unit() {
  groups=SupplementaryGroups=docker
  getent group docker >/dev/null 2>&1 || groups=
  unit=$(system_unit_template | sed -e '1,/^\[Unit\]$/{/^\[Unit\]$/!d;}' \
    -e "s|^ExecStart=.*|ExecStart=$LIB/current/bin/mlcube-agent serve --config=$CONFIG|" \
    -e "s|^User=.*|User=$SERVICE_USER|" -e "s|^Group=.*|Group=$SERVICE_USER|" \
    -e "s|^SupplementaryGroups=docker\$|$groups|" \
    -e "s|^Environment=HOME=.*|Environment=HOME=$STATE|") || fail "cannot write the systemd unit"
  # (Not a pipeline: write_if_changed must run in this shell, so that its
  # fail ends the script.)
  write_if_changed "$UNIT" "systemd unit" <<EOF
# Written by \`mlcube-remote agent install --system\` from the unit of the Debian package.
$unit
EOF
}

system_user() {
  if id "$SERVICE_USER" >/dev/null 2>&1; then
    say "service user $SERVICE_USER exists"
    return 0
  fi
  useradd --system --home-dir "$STATE" --shell /usr/sbin/nologin "$SERVICE_USER" </dev/null ||
    fail "cannot create the service user $SERVICE_USER"
  say "created the service user $SERVICE_USER"
}

# Waits until the systemd service's socket exists (10 s).
wait_for_service() {
  i=0
  while [ $i -lt 100 ]; do
    [ -S "$SOCKET" ] && return 0
    sleep 0.1
    i=$((i + 1))
  done
  if [ "$MODE" = system ]; then
    fail "the agent did not start: $(journalctl -u mlcube-agent -n 5 --no-pager 2>&1 | tr '\n' ' ')"
  fi
  fail "the agent did not start: $(journalctl --user -u mlcube-agent -n 5 --no-pager 2>&1 | tr '\n' ' ')"
}

# Waits until the agent's socket exists (10 s) while PID lives.
wait_for_socket() {
  pid=$1
  i=0
  while [ $i -lt 100 ]; do
    [ -S "$SOCKET" ] && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
    i=$((i + 1))
  done
  fail "the agent did not start; the end of $LOG: $(tail -n 5 "$LOG" 2>/dev/null | tr '\n' ' ')"
}

start_detached() {
  version=$(current_version)
  [ -n "$version" ] || fail "no agent installed in $LIB"
  rm -f "$SOCKET"
  mkdir -p "$STATE" || fail "cannot create $STATE"
  # Its own session, no terminal, output to the log: it outlives this SSH
  # connection. Started by the version's own path, which the agent records.
  (cd / && exec setsid "$LIB/$version/bin/mlcube-agent" serve --config="$CONFIG" \
    >>"$LOG" 2>&1 </dev/null) &
  pid=$!
  printf '%s\n' "$pid" >"$PIDFILE"
  wait_for_socket "$pid"
  say "started the agent $version (pid $pid, detached; log $LOG)"
}

stop_agent() {
  pid=$(agent_pid)
  if [ "$(manager)" = systemd ]; then
    if [ -n "$pid" ]; then
      sctl stop mlcube-agent.service </dev/null || fail "systemctl stop mlcube-agent failed"
      say "stopped the agent (systemd, was pid $pid)"
    else
      say "the agent is not running"
    fi
    return 0
  fi
  if [ -z "$pid" ]; then
    rm -f "$PIDFILE"
    say "the agent is not running"
    return 0
  fi
  kill -TERM "$pid"
  i=0
  while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  rm -f "$PIDFILE"
  say "stopped the agent (pid $pid; running tasks go on and are re-attached at the next start)"
}

# Starts the agent, or restarts it when it runs another version.
start_agent() {
  version=$(current_version)
  pid=$(agent_pid)
  if [ -n "$pid" ]; then
    running=$(running_version "$pid")
    if [ "$running" = "$version" ] && [ "${RESTART:-no}" = no ]; then
      say "the agent $version is already running (pid $pid)"
      return 0
    fi
    [ "$(manager)" = detached ] && stop_agent
  fi
  if [ "$(manager)" = systemd ]; then
    # The new agent makes the socket anew: its appearance says it is up.
    rm -f "$SOCKET"
    sctl reset-failed mlcube-agent.service </dev/null >/dev/null 2>&1
    if [ -n "$pid" ]; then
      sctl restart mlcube-agent.service </dev/null || fail "systemctl restart mlcube-agent failed"
      wait_for_service
      say "restarted the agent into $version (systemd, pid $(agent_pid); running tasks go on)"
    else
      sctl start mlcube-agent.service </dev/null || fail "systemctl start mlcube-agent failed"
      wait_for_service
      say "started the agent $version (systemd, pid $(agent_pid))"
    fi
  else
    start_detached
  fi
}

# A unit an earlier install left, when the agent now runs detached.
remove_user_unit() {
  [ -f "$UNIT" ] || return 0
  sctl disable --now mlcube-agent.service </dev/null >/dev/null 2>&1
  rm -f "$UNIT"
  sctl daemon-reload </dev/null >/dev/null 2>&1
  say "removed the user unit $UNIT (the agent now runs detached)"
}

setup_systemd() {
  if [ "$MODE" = system ]; then
    [ -d /run/systemd/system ] || fail "--system needs systemd on the host (PID 1 is not systemd)"
    system_user
    changed=no
    write_system_unit && changed=yes
  elif want_user_systemd; then
    changed=no
    write_user_unit && changed=yes
  else
    if has_user_systemd; then
      say "lingering is off for $(id -un): a systemctl --user service would stop at logout with its running tasks, so the agent runs as a detached process (pid file $PIDFILE); \`loginctl enable-linger $(id -un)\` then install again to run it under systemd"
    else
      say "no user systemd here: the agent runs as a detached process (pid file $PIDFILE)"
    fi
    remove_user_unit
    return 0
  fi
  if [ $changed = yes ]; then
    sctl daemon-reload </dev/null || fail "systemctl daemon-reload failed"
    RESTART=yes
  fi
  if ! sctl is-enabled mlcube-agent.service >/dev/null 2>&1; then
    sctl enable mlcube-agent.service </dev/null >/dev/null 2>&1 || fail "systemctl enable mlcube-agent failed"
    say "enabled mlcube-agent.service"
  fi
}

do_setup() {
  [ $# -eq 3 ] || fail "setup needs VERSION SHA256 UPLOAD"
  # A running agent restarts when its bundle or its config changed (it
  # reads its config once).
  RESTART=no
  install_bundle "$1" "$2" "$3"
  make_current "$1"
  write_config && RESTART=yes
  setup_systemd
  start_agent
  report
}

do_ensure() {
  if [ -z "$(current_version)" ]; then
    kv installed ""
    return 0
  fi
  if [ -z "$(agent_pid)" ]; then
    start_agent
    kv started yes
  fi
  report
}

do_uninstall() {
  stop_agent
  if [ -f "$UNIT" ]; then
    sctl disable mlcube-agent.service </dev/null >/dev/null 2>&1
    rm -f "$UNIT"
    sctl daemon-reload </dev/null
    say "removed $UNIT"
  fi
  if [ -d "$LIB" ]; then
    rm -rf "$LIB"
    say "removed $LIB"
  fi
  if [ -f "$CONFIG" ]; then
    rm -f "$CONFIG"
    rmdir "$(dirname "$CONFIG")" 2>/dev/null
    say "removed $CONFIG"
  fi
  [ "$MODE" = user ] && rm -f "$STATE/socket" "$SOCKET"
  [ -d "$STATE" ] && say "kept $STATE (jobs, cubes, outputs); remove it yourself when no longer needed"
  return 0
}

main() {
  [ $# -ge 2 ] || fail "usage: ACTION MODE [ARGS]"
  ACTION=$1 MODE=$2
  shift 2
  layout
  case $ACTION in
    probe) do_probe "$@" ;;
    setup) do_setup "$@" ;;
    ensure) do_ensure ;;
    status) report ;;
    stop) stop_agent ;;
    uninstall) do_uninstall ;;
    *) fail "unknown action '$ACTION'" ;;
  esac
}

# The whole script is read before main runs, with stdin away from it.
main "$@" </dev/null
