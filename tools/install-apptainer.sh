#!/usr/bin/env bash
# Install a real, unprivileged Apptainer on Debian 12 (bookworm), amd64, as root.
#
# Apptainer is not in bookworm; Debian sid has it (1.4.x), built against glibc >= 2.38. So we
# take the sid packages of apptainer and of the libraries it links (libc6, libseccomp2,
# libsqlite3-0), unpack them into PREFIX (never into the system), and point the two ELF
# binaries (apptainer, starter) at PREFIX's own dynamic loader and libraries with patchelf.
# Apptainer is relocatable: it derives its config/state dirs from the location of its binary
# (PREFIX/usr/etc, PREFIX/usr/var, ...), which is why those dirs are created below.
#
# The sid packages are fetched with a private apt configuration (its own sources list, lists,
# cache and an empty dpkg status), so the system's apt sources and state stay untouched. The
# mirror is the one the system's apt sources already use (works behind a local mirror).
#
# Host tools apptainer calls are installed from bookworm: squashfs-tools (mksquashfs/
# unsquashfs), uidmap (newuidmap/newgidmap for unprivileged --fakeroot builds) and patchelf.
# squashfuse is deliberately NOT installed: without it apptainer extracts a SIF into a
# temporary sandbox, which works unprivileged here; with it, it would try FUSE mounts.
#
# Idempotent: if `apptainer --version` already works (and the host tools are present), it
# does nothing and prints nothing. Fails loudly otherwise.
#
# Usage: install-apptainer.sh [PREFIX]     (default /opt/apptainer)
# Env:   APPTAINER_MIRROR  override the Debian mirror URI (e.g. http://deb.debian.org/debian)
#        APPTAINER_BIN_LINK where to put the `apptainer` symlink (default /usr/local/bin/apptainer)
set -euo pipefail

PREFIX=${1:-/opt/apptainer}
LINK=${APPTAINER_BIN_LINK:-/usr/local/bin/apptainer}
PACKAGES=(apptainer libc6 libseccomp2 libsqlite3-0)
HOST_PACKAGES=(squashfs-tools uidmap patchelf)

log() { echo "install-apptainer: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

host_tools_present() {
  command -v mksquashfs >/dev/null 2>&1 && command -v unsquashfs >/dev/null 2>&1 &&
    command -v newuidmap >/dev/null 2>&1 && command -v newgidmap >/dev/null 2>&1
}

apptainer_works() {
  local out
  out=$("${1:-apptainer}" --version 2>/dev/null) || return 1
  [[ $out == "apptainer version "* ]]
}

if apptainer_works && host_tools_present; then
  exit 0
fi

[[ $(id -u) -eq 0 ]] || die "must run as root (installs packages and writes $PREFIX)"
[[ $(dpkg --print-architecture) == amd64 ]] || die "only amd64 is supported"
[[ $PREFIX == /* ]] || die "PREFIX must be an absolute path: $PREFIX"

export DEBIAN_FRONTEND=noninteractive
WORK=$(mktemp -d /var/tmp/install-apptainer.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
APTLOG=$WORK/apt.log

run_logged() {
  if ! "$@" >>"$APTLOG" 2>&1; then
    tail -n 40 "$APTLOG" >&2 || true
    die "failed: $*"
  fi
}

# --- 1. host tools from bookworm (system apt) ----------------------------------------------
missing=()
for p in "${HOST_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]} from the system's apt sources"
  if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$APTLOG" 2>&1; then
    run_logged apt-get update -qq
    run_logged apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
fi
host_tools_present || die "squashfs-tools/uidmap installed but mksquashfs/newuidmap not on PATH"
command -v patchelf >/dev/null 2>&1 || die "patchelf not on PATH"
if dpkg-query -W -f='${Status}' squashfuse 2>/dev/null | grep -q 'install ok installed'; then
  log "WARNING: squashfuse is installed; apptainer will try FUSE mounts (untested here)"
fi

# If apptainer itself already works, only the host tools were missing: done.
if apptainer_works; then
  log "$(apptainer --version)"
  exit 0
fi

# --- 2. the mirror the system's apt sources use ----------------------------------------------
# The first Debian archive URI serving the OS codename (not -security / -updates), taken from
# one-line sources.list files and deb822 *.sources files.
find_mirror() {
  local codename f
  # shellcheck source=/dev/null
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
  # one-line format: deb [options] URI SUITE COMPONENTS...
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" |
      awk -v c="$codename" '$1 == "deb" && $3 == c { print $2; exit }'
  done
  # deb822 format: stanzas with Types/URIs/Suites fields
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    awk -v c="$codename" '
      function flush() {
        if (types ~ /(^| )deb( |$)/ && enabled != "no" && (" " suites " ") ~ (" " c " ")) {
          split(uris, u, " "); print u[1]; found = 1
        }
        types = ""; uris = ""; suites = ""; enabled = ""
      }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); if (found) exit; next }
      {
        key = tolower($1); sub(/:$/, "", key); val = $0; sub(/^[^:]*:[ \t]*/, "", val)
        if (key == "types") types = val
        else if (key == "uris") uris = val
        else if (key == "suites") suites = val
        else if (key == "enabled") enabled = tolower(val)
      }
      END { if (!found) flush() }' "$f"
  done
}

MIRROR=${APPTAINER_MIRROR:-}
if [[ -z $MIRROR ]]; then
  # awk 'NR == 1' (not head) reads all input: no SIGPIPE under pipefail.
  MIRROR=$(find_mirror | awk 'NR == 1')
fi
[[ -n $MIRROR ]] || die "could not find the Debian mirror in /etc/apt/sources.list{,.d/*}; set APPTAINER_MIRROR"
MIRROR=${MIRROR%/}
log "fetching ${PACKAGES[*]} from $MIRROR sid (private apt config in $WORK)"

# --- 3. private apt config: sid sources, own lists/cache/status ------------------------------
mkdir -p "$WORK/etc/sources.list.d" "$WORK/etc/preferences.d" "$WORK/lists/partial" \
  "$WORK/cache/archives/partial" "$WORK/debs"
: >"$WORK/status"
SIGNED_BY=""
[[ -f /usr/share/keyrings/debian-archive-keyring.gpg ]] &&
  SIGNED_BY="[signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
echo "deb ${SIGNED_BY}${MIRROR} sid main" >"$WORK/etc/sources.list"
cat >"$WORK/apt.conf" <<EOF
Dir::Etc::SourceList "$WORK/etc/sources.list";
Dir::Etc::SourceParts "$WORK/etc/sources.list.d";
Dir::Etc::Preferences "$WORK/etc/preferences";
Dir::Etc::PreferencesParts "$WORK/etc/preferences.d";
Dir::State "$WORK/state";
Dir::State::Lists "$WORK/lists";
Dir::State::status "$WORK/status";
Dir::Cache "$WORK/cache";
APT::Sandbox::User "root";
APT::Architectures { "amd64"; };
EOF
mkdir -p "$WORK/state"
export APT_CONFIG=$WORK/apt.conf
run_logged apt-get update -qq --error-on=any
(cd "$WORK/debs" && run_logged apt-get download -qq "${PACKAGES[@]}")
unset APT_CONFIG

# --- 4. unpack into a staging prefix, patch, then move into place ----------------------------
STAGE=$PREFIX.new.$$
rm -rf "$STAGE"
mkdir -p "$STAGE"
for deb in "$WORK"/debs/*.deb; do
  dpkg -x "$deb" "$STAGE" || die "dpkg -x $deb failed"
done
LIBDIR=$PREFIX/usr/lib/x86_64-linux-gnu  # final location: patched paths must point there
for bin in usr/bin/apptainer usr/lib/x86_64-linux-gnu/apptainer/bin/starter; do
  [[ -f $STAGE/$bin ]] || die "$bin missing from the apptainer package"
  patchelf --set-interpreter "$LIBDIR/ld-linux-x86-64.so.2" --force-rpath \
    --set-rpath "$LIBDIR" "$STAGE/$bin" || die "patchelf $bin failed"
done
mkdir -p "$STAGE/usr/etc"
cp -a "$STAGE/etc/apptainer" "$STAGE/usr/etc/"
ln -sfn ../etc "$STAGE/usr/lib/etc"
mkdir -p "$STAGE/usr/var/lib/apptainer/mnt/session" \
  "$STAGE/usr/lib/var/lib/apptainer/mnt/session"

if [[ -e $PREFIX ]]; then
  rm -rf "$PREFIX.old"
  mv "$PREFIX" "$PREFIX.old"
fi
mv "$STAGE" "$PREFIX"
rm -rf "$PREFIX.old"

# --- 5. put it on PATH and verify --------------------------------------------------------------
mkdir -p "$(dirname "$LINK")"
ln -sfn "$PREFIX/usr/bin/apptainer" "$LINK"
hash -r
apptainer_works "$LINK" || die "$LINK --version does not work: $("$LINK" --version 2>&1 | head -n 3)"
command -v apptainer >/dev/null 2>&1 || die "$LINK is not on PATH ($PATH)"
log "installed $("$LINK" --version) in $PREFIX, linked as $LINK"
