#!/usr/bin/env bash
# A real remote host with systemd (PID 1) and sshd, in a Docker container,
# for the `agent install` tests: per-user agents under `systemctl --user`
# (logind, lingering) and the system agent (--system, sudo).
#
#   tools/systemd-test-host.sh image              builds the image once (cached)
#   tools/systemd-test-host.sh start NAME PORT PUBKEY
#       runs container NAME with sshd published on 127.0.0.1:PORT; users
#       `alice` (passwordless sudo) and `bob` (no sudo) accept PUBKEY; waits
#       until `systemctl is-system-running` settles; prints the host key line
#       for known_hosts.
#   tools/systemd-test-host.sh stop NAME
#
# The root filesystem comes from `debootstrap --variant=minbase bookworm`
# with the mirror this machine's apt sources use; it is cached as a tarball
# in /var/cache/mlcube-remote-test and imported as IMAGE, so only the first
# run takes a minute or two. This machine's PID 1 is not systemd and its
# cgroup v1 has no systemd hierarchy: that is mounted first (named, empty).
# `--privileged` fails here (runc cannot apply every capability), hence
# --cap-add SYS_ADMIN.
set -euo pipefail

IMAGE=mlcube-remote-systemd:bookworm
CACHE=/var/cache/mlcube-remote-test
ROOTFS_TAR=$CACHE/systemd-bookworm-rootfs.tar
PACKAGES=systemd,systemd-sysv,dbus,dbus-user-session,libpam-systemd,openssh-server,iproute2,sudo,procps

log() { echo "systemd-test-host: $*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}
[[ $(id -u) -eq 0 ]] || die "must run as root"
command -v docker >/dev/null || die "docker missing: tools/start-docker.sh"

mirror() {
  local uri
  uri=$(grep -rhoE '^(deb|URIs:)\s+https?://[^ ]*debian[^ ]*' /etc/apt/sources.list \
    /etc/apt/sources.list.d/ 2>/dev/null | grep -v security | head -n 1 | awk '{print $2}')
  echo "${uri:-http://deb.debian.org/debian}"
}

build_image() {
  docker image inspect "$IMAGE" >/dev/null 2>&1 && return 0
  if [[ ! -s $ROOTFS_TAR ]]; then
    command -v debootstrap >/dev/null || die "debootstrap missing: apt-get install -y debootstrap"
    mkdir -p "$CACHE"
    local dir
    dir=$(mktemp -d "$CACHE/rootfs.XXXXXX")
    log "debootstrap bookworm from $(mirror) into $dir (a minute or two, once)"
    debootstrap --variant=minbase --include="$PACKAGES" bookworm "$dir" "$(mirror)" \
      >"$CACHE/debootstrap.log" 2>&1 || die "debootstrap failed (log: $CACHE/debootstrap.log)"
    # No host keys in the image: each container makes its own.
    rm -f "$dir"/etc/ssh/ssh_host_*
    tar -C "$dir" -cf "$ROOTFS_TAR.part" . && mv "$ROOTFS_TAR.part" "$ROOTFS_TAR"
    rm -rf "$dir"
  fi
  docker import "$ROOTFS_TAR" "$IMAGE" >/dev/null || die "docker import failed"
  log "built $IMAGE"
}

systemd_cgroup() {
  [[ -d /sys/fs/cgroup/systemd ]] && mountpoint -q /sys/fs/cgroup/systemd && return 0
  [[ -f /sys/fs/cgroup/cgroup.controllers ]] && return 0 # cgroup v2: nothing to do
  mkdir -p /sys/fs/cgroup/systemd
  mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd
}

start() {
  local name=$1 port=$2 pubkey=$3
  [[ -r $pubkey ]] || die "cannot read $pubkey"
  build_image
  systemd_cgroup
  docker rm -f "$name" >/dev/null 2>&1 || true
  docker run -d --name "$name" --hostname "$name" --cap-add SYS_ADMIN \
    -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock \
    -p "127.0.0.1:$port:22" "$IMAGE" /lib/systemd/systemd >/dev/null
  local state=
  for _ in $(seq 1 100); do
    state=$(docker exec "$name" systemctl is-system-running 2>/dev/null || true)
    [[ $state == running || $state == degraded ]] && break
    sleep 0.2
  done
  [[ $state == running || $state == degraded ]] || die "systemd in $name: '$state'"
  docker exec -i "$name" sh -s "$(cat "$pubkey")" <<'SETUP' || die "setting up $name failed"
set -e
key=$1
ssh-keygen -A >/dev/null
for user in alice bob; do
  id "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$user"
  usermod -p '*' "$user"
  install -d -m 0700 -o "$user" -g "$user" "/home/$user/.ssh"
  echo "$key" >"/home/$user/.ssh/authorized_keys"
  chown "$user:" "/home/$user/.ssh/authorized_keys"
done
echo 'alice ALL=(ALL) NOPASSWD: ALL' >/etc/sudoers.d/alice
systemctl reset-failed ssh.service 2>/dev/null || true
systemctl restart ssh.service
SETUP
  for _ in $(seq 1 50); do
    docker exec "$name" systemctl is-active --quiet ssh && break
    sleep 0.2
  done
  echo "[127.0.0.1]:$port $(docker exec "$name" cat /etc/ssh/ssh_host_ed25519_key.pub | cut -d' ' -f1,2)"
}

case ${1:-} in
  image) build_image ;;
  start)
    [[ $# -eq 4 ]] || die "usage: $0 start NAME PORT PUBKEY"
    start "$2" "$3" "$4"
    ;;
  stop)
    [[ $# -eq 2 ]] || die "usage: $0 stop NAME"
    docker rm -f "$2" >/dev/null 2>&1 || true
    ;;
  *) die "usage: $0 image | start NAME PORT PUBKEY | stop NAME" ;;
esac
