#!/usr/bin/env bash
# Installs the build dependencies from Debian 12's apt and builds mlcube-remote
# into build/. Idempotent: quiet when everything is already installed.
# Usage: tools/setup.sh [--debug]   (run as root, or with sudo available)
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_PACKAGES=(
  cmake ninja-build g++ pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libssh-dev libyaml-cpp-dev libgtest-dev libgmock-dev libcli11-dev libssl-dev
  libzstd-dev libacl1-dev binutils
  libcpp-httplib-dev nlohmann-json3-dev libjs-chart.js
)

SUDO=()
[[ $(id -u) -eq 0 ]] || SUDO=(sudo)

missing=()
for package in "${BUILD_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  "${SUDO[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

BUILD_TYPE=RelWithDebInfo
[[ "${1:-}" == "--debug" ]] && BUILD_TYPE=Debug
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE" >/dev/null
# A first build takes minutes: one progress line per 5 percent or 30 s, with the
# compiler's warnings and errors as they come; a failed build fails setup.
echo "setup: building build/ ($BUILD_TYPE, $(nproc) jobs)" >&2
if ! bash tools/ninja-progress.sh --prefix=setup -C build -j"$(nproc)"; then
  echo "setup: the build failed (the errors are above)" >&2
  exit 1
fi
test -x build/controller/mlcube-remote && test -x build/agent/mlcube-agent
echo "setup: built build/controller/mlcube-remote and build/agent/mlcube-agent" >&2
