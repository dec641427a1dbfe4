#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a finished MLCube task:
# installs dependencies, builds, starts a local mlcube-agent (as the
# unprivileged service user `mlcube-agent`, socket
# /run/mlcube-agent/agent.sock: the built-in default host `local`), then runs
# examples/hello through it end to end as you.
#   sudo tools/quickstart.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $(id -u) -eq 0 ]] || { echo "quickstart: run with sudo (it installs packages)" >&2; exit 2; }
ROOT=$(pwd)
SOCKET=/run/mlcube-agent/agent.sock
STATE=/var/lib/mlcube-agent

bash tools/setup.sh
bash tools/start-docker.sh
bash tools/prepare-examples.sh

# The service user: no login, in group docker (runs containers), owns the
# state dir; the agent never runs as root.
if ! id mlcube-agent >/dev/null 2>&1; then
  useradd --system --home-dir "$STATE" --shell /usr/sbin/nologin mlcube-agent
fi
usermod -aG docker mlcube-agent
install -d -o mlcube-agent -g mlcube-agent -m 0750 "$STATE"
install -d -o mlcube-agent -g mlcube-agent -m 0755 /run/mlcube-agent
install -m 0755 build/agent/mlcube-agent /usr/local/bin/mlcube-agent
install -m 0755 build/agent/mlcube-agent-supervisor /usr/local/bin/mlcube-agent-supervisor
install -m 0755 build/controller/mlcube-remote /usr/local/bin/mlcube-remote

# The built-in host `local` (no hosts file) is the agent on $SOCKET.
NO_HOSTS_FILE=(env XDG_CONFIG_HOME=/nonexistent MLCUBE_REMOTE_HOSTS= MLCUBE_REMOTE_AGENT="unix://$SOCKET")
agent_up() { [[ -S $SOCKET ]] && "${NO_HOSTS_FILE[@]}" timeout 5 mlcube-remote -q hosts >/dev/null 2>&1; }
if ! agent_up; then
  echo "quickstart: starting mlcube-agent (log: /var/log/mlcube-agent.log)" >&2
  # Restart the agent if it is an older build; its jobs survive (KillMode=process semantics).
  pkill -u mlcube-agent -x mlcube-agent 2>/dev/null || true
  setsid setpriv --reuid=mlcube-agent --regid=mlcube-agent --init-groups \
    env HOME="$STATE" /usr/local/bin/mlcube-agent serve --state-dir="$STATE" \
    --listen="unix://$SOCKET" >>/var/log/mlcube-agent.log 2>&1 < /dev/null &
  for _ in $(seq 100); do agent_up && break; sleep 0.1; done
  agent_up || { tail -n 20 /var/log/mlcube-agent.log >&2; echo "quickstart: agent did not start" >&2; exit 1; }
fi

# Run the example as the user who called sudo, so the outputs are theirs.
RUN_AS=()
if [[ -n "${SUDO_USER:-}" && "$SUDO_USER" != root ]]; then
  RUN_AS=(sudo -u "$SUDO_USER" -H)
fi
echo "quickstart: mlcube-remote run --mlcube=examples/hello --task=greet" >&2
"${RUN_AS[@]}" "${NO_HOSTS_FILE[@]}" /usr/local/bin/mlcube-remote run --mlcube="$ROOT/examples/hello" --task=greet
echo "quickstart: done. The greetings are in $ROOT/examples/hello/workspace/greetings/" >&2
