#!/usr/bin/env bash
# Make a Docker engine available on a Debian 12 machine (run as root).
#
# - installs docker.io from Debian apt if dockerd is missing;
# - if `docker info` already works, does nothing (idempotent, quiet);
# - otherwise starts dockerd in the background (no systemd in CI: PID 1 is not systemd),
#   logging to /var/log/dockerd.log, and waits up to 60 s for `docker info`.
# Exits non-zero with a message on failure.
set -euo pipefail

log() { echo "start-docker: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root"

# Prefer the client shipped with docker.io (/usr/bin/docker) if it exists; any client on PATH
# works against the same socket.
DOCKER=docker
command -v docker >/dev/null 2>&1 || DOCKER=/usr/bin/docker

if "$DOCKER" info >/dev/null 2>&1; then
  exit 0
fi

find_dockerd() {
  command -v dockerd 2>/dev/null || { [[ -x /usr/sbin/dockerd ]] && echo /usr/sbin/dockerd; } \
    || { [[ -x /usr/bin/dockerd ]] && echo /usr/bin/dockerd; } || true
}

DOCKERD=$(find_dockerd)
if [[ -z $DOCKERD ]]; then
  log "installing docker.io from apt"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends docker.io >/dev/null \
    || die "apt-get install docker.io failed"
  DOCKERD=$(find_dockerd)
  [[ -n $DOCKERD ]] || die "docker.io installed but dockerd not found"
fi
command -v docker >/dev/null 2>&1 || DOCKER=/usr/bin/docker
[[ -x $(command -v "$DOCKER") ]] || die "no docker client found"

getent group docker >/dev/null || groupadd --system docker

LOG=/var/log/dockerd.log
if pgrep -x dockerd >/dev/null 2>&1; then
  log "dockerd already running but 'docker info' fails; waiting for it"
else
  # A stale pid file from a previous (killed) dockerd prevents a new start.
  if [[ -f /var/run/docker.pid ]] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    rm -f /var/run/docker.pid
  fi
  log "starting $DOCKERD (log: $LOG)"
  # setsid + nohup: the daemon must survive the end of the calling shell / CI step.
  setsid nohup "$DOCKERD" --group docker >>"$LOG" 2>&1 </dev/null &
fi

for _ in $(seq 1 60); do
  if "$DOCKER" info >/dev/null 2>&1; then
    log "docker is up ($("$DOCKER" version --format '{{.Server.Version}}' 2>/dev/null))"
    exit 0
  fi
  sleep 1
done
log "last lines of $LOG:"
tail -n 30 "$LOG" >&2 || true
die "'docker info' still failing after 60 s"
