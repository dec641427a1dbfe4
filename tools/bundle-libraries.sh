#!/usr/bin/env bash
# Copies every shared library BINARY needs (as ldd lists them) into LIBDIR, each under the name
# the binary asks for (its soname), plus the dynamic loader, so that
#   LIBDIR/LOADER --library-path LIBDIR BINARY
# runs on any Linux host of the same architecture whatever libraries it has. Prints LOADER's
# file name. Fails when a library is not found or the binary has no loader (a static binary
# needs no bundle).
# Usage: tools/bundle-libraries.sh BINARY LIBDIR
set -euo pipefail

die() { echo "bundle-libraries: ERROR: $*" >&2; exit 1; }
[[ $# -eq 2 ]] || die "usage: $0 BINARY LIBDIR"
BINARY=$1 LIBDIR=$2
mkdir -p "$LIBDIR"
LOADER=
while read -r line; do
  if [[ $line =~ ^([^[:space:]]+)\ =\>\ (/[^[:space:]]+)\  ]]; then
    cp -L "${BASH_REMATCH[2]}" "$LIBDIR/${BASH_REMATCH[1]}"
  elif [[ $line =~ ^(/[^[:space:]]*ld-linux[^[:space:]]*)\  ]]; then
    LOADER=$(basename "${BASH_REMATCH[1]}")
    cp -L "${BASH_REMATCH[1]}" "$LIBDIR/$LOADER"
  elif [[ $line =~ "not found" ]]; then
    die "ldd: $line"
  fi
done < <(ldd "$BINARY")
[[ -n $LOADER ]] || die "ldd named no dynamic loader for $BINARY (a static binary needs no bundle)"
chmod 0755 "$LIBDIR"/*
echo "$LOADER"
