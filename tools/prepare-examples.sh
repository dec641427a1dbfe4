#!/usr/bin/env bash
# Prepare the offline example cubes for building: copy the statically linked /bin/busybox
# from Debian's busybox-static package into examples/hello/build/busybox (it is not in git).
# Installs busybox-static with apt if needed (needs root then). Idempotent and quiet.
# Usage: prepare-examples.sh [REPO_ROOT]   (default: the repo containing this script)
set -euo pipefail

log() { echo "prepare-examples: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

ROOT=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
HELLO=$ROOT/examples/hello
[[ -f $HELLO/mlcube.yaml ]] || die "no cube at $HELLO"

# A dynamically linked busybox (package `busybox`) would not run in a FROM scratch image.
static_busybox_installed() {
  dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed' &&
    [[ -x /bin/busybox ]]
}
if ! static_busybox_installed; then
  [[ $(id -u) -eq 0 ]] || die "busybox-static is not installed; run as root or: apt-get install busybox-static"
  log "installing busybox-static"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends busybox-static >/dev/null 2>&1 || {
    apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends busybox-static >/dev/null
  } || die "apt-get install busybox-static failed"
  static_busybox_installed || die "busybox-static installed but /bin/busybox missing"
fi
# ldd (libc-bin, always present) fails with "not a dynamic executable" on a static binary.
if ldd /bin/busybox >/dev/null 2>&1; then
  die "/bin/busybox is dynamically linked; install busybox-static"
fi

DEST=$HELLO/build/busybox
if ! cmp -s /bin/busybox "$DEST"; then
  install -m 0755 /bin/busybox "$DEST.tmp.$$"
  mv -f "$DEST.tmp.$$" "$DEST"
fi

IGNORE=$HELLO/.gitignore
grep -qx 'build/busybox' "$IGNORE" 2>/dev/null || echo 'build/busybox' >>"$IGNORE"
