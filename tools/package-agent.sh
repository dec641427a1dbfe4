#!/usr/bin/env bash
# Packs mlcube-agent into a self-contained bundle that runs on any Linux host
# of the same architecture, whatever libraries it has (Ubuntu, RHEL/Rocky,
# Debian): the agent, every shared library it needs, glibc and the dynamic
# loader included. Nothing is taken from the host:
#
#   mlcube-agent-VERSION-linux-ARCH/
#     bin/mlcube-agent        a /bin/sh wrapper: runs the real binary through
#                             the bundled loader with --library-path lib
#     bin/mlcube-agent.real   the agent (symbols stripped)
#     bin/mlcube-agent-supervisor(.real)  the same pair for the task supervisor,
#                             when it was built beside AGENT_BINARY
#     lib/                    ld-linux-*.so.*, libc.so.6, libssl.so.3..., as ldd lists them
#     VERSION                 "mlcube-agent VERSION"
#     SHA256SUMS              every file above
#
# The wrapper exports MLCUBE_AGENT_SELF (its own absolute path): the agent
# finds bin/mlcube-agent-supervisor beside it (or starts `mlcube-agent
# supervise` through it), because /proc/self/exe is the loader, not the agent.
#
# Usage: tools/package-agent.sh AGENT_BINARY OUTPUT_DIR
# Prints the path of OUTPUT_DIR/mlcube-agent-VERSION-linux-ARCH.tar.gz (and
# writes its checksum beside it as .sha256). The archive is reproducible: same
# inputs, same bytes.
# Example: tools/package-agent.sh build/agent/mlcube-agent build/controller
set -euo pipefail

log() { echo "package-agent: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $# -eq 2 ]] || die "usage: $0 AGENT_BINARY OUTPUT_DIR"
AGENT=$1 OUT=$2
[[ -x $AGENT ]] || die "no agent binary at $AGENT (build it: ninja -C build mlcube-agent)"
for tool in ldd objcopy tar gzip sha256sum; do
  command -v "$tool" >/dev/null || die "$tool missing (apt-get install -y binutils libc-bin tar gzip coreutils)"
done

VERSION=$("$AGENT" --version | awk '{print $2}')
[[ $VERSION =~ ^[0-9A-Za-z.+~-]+$ ]] || die "$AGENT --version printed no version"
ARCH=$(uname -m)
NAME=mlcube-agent-$VERSION-linux-$ARCH
mkdir -p "$OUT"
STAGE=$(mktemp -d "${TMPDIR:-/tmp}/package-agent.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
ROOT=$STAGE/$NAME
mkdir -p "$ROOT/bin" "$ROOT/lib"

objcopy --strip-unneeded "$AGENT" "$ROOT/bin/mlcube-agent.real"
chmod 0755 "$ROOT/bin/mlcube-agent.real"

# Every library the loader would map, under the name the binary asks for
# (its soname), plus the loader itself.
LOADER=$(bash "$(dirname "$0")/bundle-libraries.sh" "$AGENT" "$ROOT/lib")

cat >"$ROOT/bin/mlcube-agent" <<WRAPPER
#!/bin/sh
# mlcube-agent $VERSION, self-contained: runs the agent with the bundled
# loader and libraries only. MLCUBE_AGENT_SELF tells the agent how to start
# itself again (task supervisors).
case \$0 in
  */*) self=\$0 ;;
  *) self=\$(command -v "\$0") || exit 127 ;;
esac
bin=\$(cd "\$(dirname "\$self")" && pwd -P) || exit 127
MLCUBE_AGENT_SELF=\$bin/mlcube-agent
export MLCUBE_AGENT_SELF
exec "\$bin/../lib/$LOADER" --library-path "\$bin/../lib" --argv0 "\$0" "\$bin/mlcube-agent.real" "\$@"
WRAPPER
chmod 0755 "$ROOT/bin/mlcube-agent"

# The per-step supervisor, when it was built beside the agent: the agent runs
# bin/mlcube-agent-supervisor (else `mlcube-agent supervise`), through the
# same loader and libraries (it needs a subset of the agent's).
SUPERVISOR=$(dirname "$AGENT")/mlcube-agent-supervisor
if [[ -x $SUPERVISOR ]]; then
  objcopy --strip-unneeded "$SUPERVISOR" "$ROOT/bin/mlcube-agent-supervisor.real"
  chmod 0755 "$ROOT/bin/mlcube-agent-supervisor.real"
  bash "$(dirname "$0")/bundle-libraries.sh" "$SUPERVISOR" "$ROOT/lib" >/dev/null
  cat >"$ROOT/bin/mlcube-agent-supervisor" <<WRAPPER
#!/bin/sh
# The task supervisor of mlcube-agent $VERSION, with the bundled loader and libraries.
bin=\$(cd "\$(dirname "\$0")" && pwd -P) || exit 127
exec "\$bin/../lib/$LOADER" --library-path "\$bin/../lib" --argv0 "\$0" "\$bin/mlcube-agent-supervisor.real" "\$@"
WRAPPER
  chmod 0755 "$ROOT/bin/mlcube-agent-supervisor"
fi
echo "mlcube-agent $VERSION" >"$ROOT/VERSION"
(cd "$ROOT" && find bin lib VERSION -type f | LC_ALL=C sort | xargs sha256sum >SHA256SUMS)

# The bundle must run by itself before it is shipped.
got=$("$ROOT/bin/mlcube-agent" --version) || die "the bundled agent does not start"
[[ $got == "mlcube-agent $VERSION" ]] || die "the bundled agent printed '$got'"

TARBALL=$OUT/$NAME.tar.gz
tar -C "$STAGE" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - "$NAME" |
  gzip -n -6 >"$TARBALL.part"
mv -f "$TARBALL.part" "$TARBALL"
(cd "$OUT" && sha256sum "$NAME.tar.gz" >"$NAME.tar.gz.sha256")
log "$TARBALL: $(du -h "$TARBALL" | cut -f1) ($(du -sh "$ROOT" | cut -f1) unpacked, $(ls "$ROOT/lib" | wc -l) libraries)"
echo "$TARBALL"
