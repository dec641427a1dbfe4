#!/usr/bin/env bash
# Checks GPU passthrough for real on a machine with an NVIDIA GPU: a cube that asks for one
# accelerator (`platform.accelerator_count: 1`) is run through a real agent with Apptainer, and
# the task itself must list the GPU with nvidia-smi, bound into the container by `--nv`.
#
# Two steps, because a GPU machine usually has none of our build tools:
#   tools/gpu-check.sh pack DIR    (here, after `ninja -C build`): puts into DIR the agent
#                                  bundle, the controller with its libraries and loader, this
#                                  machine's Apptainer (/opt/apptainer, tools/install-apptainer.sh),
#                                  a test image (busybox + glibc, built here) and the cube.
#   tools/gpu-check.sh check DIR   (on the GPU machine, as root): installs Apptainer from DIR
#                                  under /opt/apptainer, starts the agent on a private socket,
#                                  runs the cube, and fails unless the task saw a GPU.
# Docker's `--gpus` needs the NVIDIA Container Toolkit on the host; when `docker` and
# `nvidia-container-cli` are there, `check` also runs the cube on Docker.
set -euo pipefail

log() { echo "gpu-check: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)

copy_with_libraries() {  # BINARY DEST_DIR: DEST/bin/NAME.real, DEST/lib/*, DEST/bin/NAME wrapper
  local binary=$1 dest=$2 name loader
  name=$(basename "$binary")
  mkdir -p "$dest/bin"
  objcopy --strip-debug "$binary" "$dest/bin/$name.real"
  loader=$(bash "$ROOT/tools/bundle-libraries.sh" "$binary" "$dest/lib")
  cat >"$dest/bin/$name" <<EOF
#!/bin/sh
here=\$(cd "\$(dirname "\$0")/.." && pwd)
exec "\$here/lib/$loader" --library-path "\$here/lib" "\$here/bin/$name.real" "\$@"
EOF
  chmod 0755 "$dest/bin/$name"
}

build_image() {  # DIR: DIR/gpucheck.sif, busybox and glibc, a runscript that lists the GPUs
  local dir=$1 rootfs=$1/rootfs lib
  command -v busybox >/dev/null || die "busybox missing (apt-get install -y busybox-static)"
  mkdir -p "$rootfs/bin" "$rootfs/lib/x86_64-linux-gnu" "$rootfs/lib64"
  cp "$(command -v busybox)" "$rootfs/bin/busybox"
  for tool in sh cat tee ls; do ln -sf busybox "$rootfs/bin/$tool"; done
  for lib in libc.so.6 libm.so.6 libdl.so.2 libpthread.so.0 librt.so.1; do
    cp -L "/lib/x86_64-linux-gnu/$lib" "$rootfs/lib/x86_64-linux-gnu/"
  done
  cp -L /lib64/ld-linux-x86-64.so.2 "$rootfs/lib64/"
  cat >"$dir/gpucheck.def" <<'EOF'
Bootstrap: scratch
%files
  rootfs/bin /bin
  rootfs/lib /lib
  rootfs/lib64 /lib64
%runscript
  out=
  for arg in "$@"; do case "$arg" in --out=*) out="${arg#--out=}" ;; esac; done
  nvidia-smi -L | tee "$out/gpus.txt"
EOF
  (cd "$dir" && apptainer build --force gpucheck.sif gpucheck.def >/dev/null)
  rm -rf "$rootfs" "$dir/gpucheck.def"
}

write_cube() {  # DIR
  mkdir -p "$1/cube"
  cat >"$1/cube/mlcube.yaml" <<'EOF'
name: gpucheck
platform: {accelerator_count: 1}
docker: {image: gpucheck:0.1}
singularity: {image: gpucheck.sif}
tasks:
  check:
    parameters:
      outputs: {out: {type: directory, default: out}}
EOF
}

pack() {
  local dir=$1
  [[ -x $ROOT/build/agent/mlcube-agent && -x $ROOT/build/controller/mlcube-remote ]] ||
    die "build first: ninja -C build mlcube-agent mlcube-remote"
  [[ -d /opt/apptainer ]] || die "no /opt/apptainer (run tools/install-apptainer.sh)"
  rm -rf "$dir" && mkdir -p "$dir"
  local bundle
  bundle=$(bash "$ROOT/tools/package-agent.sh" "$ROOT/build/agent/mlcube-agent" "$dir")
  mv "$bundle" "$dir/agent.tar.gz" && rm -f "$dir"/*.sha256
  copy_with_libraries "$ROOT/build/controller/mlcube-remote" "$dir/controller"
  tar -C "$dir" -czf "$dir/controller.tar.gz" controller && rm -rf "$dir/controller"
  tar -C /opt -czf "$dir/apptainer.tar.gz" apptainer
  build_image "$dir"
  write_cube "$dir"
  du -sh "$dir" >&2
}

start_agent() {  # DIR WORK: the agent on WORK/agent.sock, as root (the caller is its owner)
  local dir=$1 work=$2
  mkdir -p "$work/agent" "$work/state/images/uid-0"
  tar -C "$work/agent" --strip-components=1 -xzf "$dir/agent.tar.gz"
  cp "$dir/gpucheck.sif" "$work/state/images/uid-0/gpucheck.sif"
  "$work/agent/bin/mlcube-agent" serve --state-dir="$work/state" \
    --listen="unix://$work/agent.sock" >"$work/agent.log" 2>&1 &
  for _ in $(seq 100); do [[ -S $work/agent.sock ]] && return 0; sleep 0.1; done
  cat "$work/agent.log" >&2
  die "agent did not start"
}

run_cube() {  # DIR WORK RUNTIME: the task must list a GPU in its own output file
  local dir=$1 work=$2 runtime=$3 cube=$2/cube-$3
  rm -rf "$cube" && cp -a "$dir/cube" "$cube"
  printf 'default_host: gpu\nhosts:\n  gpu: {address: "unix://%s/agent.sock", runtime: %s}\n' \
    "$work" "$runtime" >"$work/hosts-$runtime.yaml"
  local ctl=(env "MLCUBE_REMOTE_HOSTS=$work/hosts-$runtime.yaml" "$dir/controller/bin/mlcube-remote")
  log "plan ($runtime):"
  "${ctl[@]}" run --mlcube="$cube" --task=check --dry-run "${@:4}" >&2
  log "run ($runtime):"
  "${ctl[@]}" run --mlcube="$cube" --task=check "${@:4}" >&2
  grep -q '^GPU 0: ' "$cube/workspace/out/gpus.txt" ||
    die "$runtime: the task saw no GPU (workspace/out/gpus.txt: $(cat "$cube/workspace/out/gpus.txt" 2>&1))"
  log "$runtime: the task saw: $(head -n 1 "$cube/workspace/out/gpus.txt")"
}

check() {
  local dir work
  dir=$(cd "$1" && pwd)
  [[ $(id -u) -eq 0 ]] || die "run as root (installs Apptainer under /opt/apptainer)"
  command -v nvidia-smi >/dev/null || die "no nvidia-smi: not a machine with an NVIDIA driver"
  nvidia-smi -L >&2
  [[ -d $dir/controller ]] || tar -C "$dir" -xzf "$dir/controller.tar.gz"
  if ! command -v apptainer >/dev/null; then
    tar -C /opt -xzf "$dir/apptainer.tar.gz"
    ln -sf /opt/apptainer/usr/bin/apptainer /usr/local/bin/apptainer
    # Root in the container gets no capabilities rather than all of root's ("full", the
    # default), which a sandboxed machine (a VM without CAP_SYS_RESOURCE, say) refuses.
    sed -i -E 's/^root default capabilities = .*/root default capabilities = no/' \
      /opt/apptainer/usr/etc/apptainer/apptainer.conf
  fi
  work=$(mktemp -d /tmp/gpu-check.XXXXXX)
  start_agent "$dir" "$work"
  trap 'kill %1 2>/dev/null || true' EXIT
  "$dir/controller/bin/mlcube-remote" --version >&2 || true
  env "MLCUBE_REMOTE_AGENT=unix://$work/agent.sock" "$dir/controller/bin/mlcube-remote" hosts >&2
  run_cube "$dir" "$work" singularity                    # the cube's accelerator_count: 1
  run_cube "$dir" "$work" singularity --gpus=device=0     # one device by index
  if command -v docker >/dev/null && command -v nvidia-container-cli >/dev/null; then
    run_cube "$dir" "$work" docker
  else
    log "docker: not checked (no docker or no NVIDIA Container Toolkit on this machine)"
  fi
  log "PASS"
}

case "${1:-}" in
  pack) [[ $# -eq 2 ]] || die "usage: $0 pack DIR"; pack "$2" ;;
  check) [[ $# -eq 2 ]] || die "usage: $0 check DIR"; check "$2" ;;
  *) die "usage: $0 pack DIR | check DIR" ;;
esac
