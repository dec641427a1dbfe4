#!/usr/bin/env bash
# Make Podman usable on a Debian 12 machine, rootful (as root) and rootless
# (as the test users), for the Podman tests (run as root). Idempotent.
#
# - installs podman with what rootless mode needs (uidmap: newuidmap for
#   the subordinate ranges tools/create-test-user.sh gives; slirp4netns:
#   the network; fuse-overlayfs: storage) from Debian;
# - makes /dev/net/tun read-write for everyone, as Debian's udev rules do
#   (slirp4netns opens it as the user; some sandboxes create it 0600);
# - where root cannot raise its hard limits (a container or sandbox without
#   CAP_SYS_RESOURCE), caps the limits rootful Podman gives containers
#   (1048576 files, 4194304 processes by default) to what the host allows,
#   in /etc/containers/containers.conf.d/; runc fails every start otherwise
#   ("error setting rlimits for ready process").
set -euo pipefail

log() { echo "start-podman: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root"

missing=()
for package in podman uidmap slirp4netns fuse-overlayfs; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]} from apt"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
fi
command -v podman >/dev/null || die "podman installed but not on PATH"

if [[ ! -e /dev/net/tun ]]; then
  mkdir -p /dev/net
  mknod -m 0666 /dev/net/tun c 10 200 || die "cannot create /dev/net/tun"
elif [[ $(stat -c %a /dev/net/tun) != 666 ]]; then
  log "making /dev/net/tun read-write for all (Debian's default; rootless networking needs it)"
  chmod 0666 /dev/net/tun || die "cannot chmod /dev/net/tun"
fi

conf=/etc/containers/containers.conf.d/mlcube-test-ulimits.conf
if ! bash -c 'ulimit -Hn 1048576' 2>/dev/null; then
  nofile=$(ulimit -Hn)
  nproc=$(ulimit -Hu)
  # conmon runs with at most 32768 processes here, whatever root's limit.
  [[ $nproc == unlimited || $nproc -gt 32768 ]] && nproc=32768
  want=$(printf '[containers]\ndefault_ulimits = ["nofile=%s:%s", "nproc=%s:%s"]\n' \
    "$nofile" "$nofile" "$nproc" "$nproc")
  if [[ ! -f $conf || $(cat "$conf") != "$want" ]]; then
    log "root cannot raise its hard limits here: rootful containers get nofile=$nofile nproc=$nproc ($conf)"
    mkdir -p "$(dirname "$conf")"
    printf '%s\n' "$want" >"$conf"
  fi
fi
log "podman is ready ($(podman --version))"
