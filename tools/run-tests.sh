#!/usr/bin/env bash
# The test command: prepares the real components the tests use (Docker
# engine, Podman rootful and rootless, unprivileged Apptainer, test user `mlcube`, a one-node Slurm cluster,
# example images), builds,
# runs the fuzz targets for MLCUBE_FUZZ_SECONDS (default 40) each, the
# whole ctest suite, then a chaos soak of MLCUBE_SOAK_MINUTES (default 3; 0:
# none). Run as root on a Debian 12 machine after tools/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $(id -u) -eq 0 ]] || { echo "run-tests: run as root (sudo tools/run-tests.sh)" >&2; exit 2; }

FUZZ_SECONDS=${MLCUBE_FUZZ_SECONDS:-40}
SOAK_MINUTES=${MLCUBE_SOAK_MINUTES:-3}

bash tools/setup.sh
# What the integration tests use besides the build: sshd and ssh (SSH
# transport), iproute2 (hosts in network namespaces), rsync (benchmarks),
# binutils (objcopy: tools/package-agent.sh), gnuplot-nox (`plot` draws its
# curves with gnuplot), debootstrap and dpkg-dev (the systemd host image and
# the Debian package the systemd-host tests install), shellcheck (every shell script of the
# project, the agent's host-side installer included, is checked before anything runs),
# prometheus and curl (a real Prometheus server scrapes the agent's metrics),
# e2fsprogs (the soak's small state filesystem), chromium, chromium-driver and
# python3-selenium (the dashboard's pages in a real headless browser).
test_packages=()
for package in openssh-server openssh-client iproute2 rsync binutils gnuplot-nox debootstrap \
  dpkg-dev shellcheck prometheus curl e2fsprogs chromium chromium-driver python3-selenium; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || test_packages+=("$package")
done
if ((${#test_packages[@]})); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${test_packages[@]}" >/dev/null
fi
mapfile -t scripts < <(git ls-files '*.sh')
shellcheck -x -S warning "${scripts[@]}"
bash tools/start-docker.sh
bash tools/start-podman.sh
bash tools/install-apptainer.sh
bash tools/create-test-user.sh
# `agent install` tests install into a home of their own.
bash tools/create-test-user.sh mlcube-install
bash tools/start-slurm.sh
bash tools/prepare-examples.sh
# A Debian 12 root filesystem with systemd and sshd for the systemd-host tests
# (`agent install` into a real systemd): debootstrapped once, then cached.
bash tools/systemd-test-host.sh image

# Fuzz targets need clang and libFuzzer; built in their own tree.
if ((FUZZ_SECONDS > 0)); then
  for package in clang libclang-rt-14-dev; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || {
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null; }
  done
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DMLCUBE_REMOTE_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  # Only the fuzz targets and what they link: the whole tree built a second
  # time with clang took a quarter of the test command.
  mapfile -t fuzz_targets < <(basename -s .cc tests/fuzz/*_fuzz.cc)
  if ! ninja -C build-fuzz -j"$(nproc)" "${fuzz_targets[@]}" >build-fuzz/ninja.log 2>&1; then
    grep -E 'error|FAILED' build-fuzz/ninja.log | head -n 20 >&2
    echo "run-tests: the clang/libFuzzer build failed (log: build-fuzz/ninja.log)" >&2
    exit 1
  fi
  fuzzers=(build-fuzz/tests/fuzz/*_fuzz)
  [[ -x ${fuzzers[0]} ]] || { echo "run-tests: no fuzz targets were built" >&2; exit 1; }
  for fuzzer in "${fuzzers[@]}"; do
    name=$(basename "$fuzzer")
    corpus=$(mktemp -d)
    echo "run-tests: fuzzing $name for ${FUZZ_SECONDS}s" >&2
    if ! "$fuzzer" -max_total_time="$FUZZ_SECONDS" -max_len=4096 -rss_limit_mb=2048 \
        "$corpus" "tests/fuzz/corpus/${name%_fuzz}" >"build-fuzz/$name.log" 2>&1; then
      tail -n 60 "build-fuzz/$name.log" >&2
      echo "run-tests: $name found a problem (log: build-fuzz/$name.log)" >&2
      exit 1
    fi
    grep -E '^Done [0-9]+ runs' "build-fuzz/$name.log" >&2 || true
    rm -rf "$corpus"
  done
fi

ctest --test-dir build --output-on-failure -j2 --timeout 600

# Last: it restarts the Docker daemon, which no other test may see.
if ((SOAK_MINUTES > 0)); then
  tools/soak.sh "$SOAK_MINUTES"
fi
