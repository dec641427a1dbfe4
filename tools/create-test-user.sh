#!/usr/bin/env bash
# Create the unprivileged test user used by integration tests and by the real-runtime proofs
# (run as root). Idempotent: quiet when everything is already in place.
#
# The user gets:
#  - a home directory (apptainer keeps its cache in $HOME/.apptainer);
#  - a subordinate uid/gid range in /etc/subuid and /etc/subgid (apptainer's unprivileged
#    builds use a user namespace mapping a full range via newuidmap/newgidmap: --fakeroot);
#  - membership in group `docker` (talks to dockerd's socket, e.g. `apptainer build
#    x.sif docker-daemon:IMAGE:TAG`).
# Usage: create-test-user.sh [USER]   (default: mlcube)
set -euo pipefail

USER_NAME=${1:-mlcube}
log() { echo "create-test-user: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
[[ $(id -u) -eq 0 ]] || die "must run as root"

getent group docker >/dev/null || groupadd --system docker

if ! id "$USER_NAME" >/dev/null 2>&1; then
  log "creating user $USER_NAME"
  if getent group "$USER_NAME" >/dev/null; then
    group_opt=(--gid "$USER_NAME")  # a leftover group of that name: reuse it
  else
    group_opt=(--user-group)
  fi
  useradd --create-home --shell /bin/bash "${group_opt[@]}" "$USER_NAME" \
    || die "useradd $USER_NAME failed"
fi
HOME_DIR=$(getent passwd "$USER_NAME" | cut -d: -f6)
if [[ ! -d $HOME_DIR ]]; then
  mkdir -p "$HOME_DIR"
  chown "$USER_NAME:" "$HOME_DIR"
  chmod 0750 "$HOME_DIR"
fi

if ! id -nG "$USER_NAME" | tr ' ' '\n' | grep -qx docker; then
  usermod -aG docker "$USER_NAME" || die "usermod -aG docker $USER_NAME failed"
fi

# Pick a free 65536-wide range above every range already allocated (>= 100000).
next_free_start() {
  local max=100000 start count end
  while IFS=: read -r _ start count; do
    [[ $start =~ ^[0-9]+$ && $count =~ ^[0-9]+$ ]] || continue
    end=$((start + count))
    ((end > max)) && max=$end
  done < <(cat /etc/subuid /etc/subgid 2>/dev/null)
  echo "$max"
}

for f in /etc/subuid /etc/subgid; do
  [[ -f $f ]] || touch "$f"
  if ! grep -q "^${USER_NAME}:" "$f"; then
    start=$(next_free_start)
    echo "${USER_NAME}:${start}:65536" >>"$f"
    log "added ${USER_NAME}:${start}:65536 to $f"
  fi
done

# Final check: fail loudly if anything is still missing.
id "$USER_NAME" >/dev/null 2>&1 || die "user $USER_NAME missing"
id -nG "$USER_NAME" | tr ' ' '\n' | grep -qx docker || die "$USER_NAME not in group docker"
grep -q "^${USER_NAME}:" /etc/subuid || die "no /etc/subuid range for $USER_NAME"
grep -q "^${USER_NAME}:" /etc/subgid || die "no /etc/subgid range for $USER_NAME"
