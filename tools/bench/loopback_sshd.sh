# shellcheck shell=bash
# Sourced by the benchmarks: an sshd on 127.0.0.1 with throwaway keys, the
# way a user reaches a compute host, so "ssh host ..." baselines run side by
# side with ours.
#   start_loopback_sshd DIR PORT   sets SSH (the ssh command), RHOST, SSHD_PID
start_loopback_sshd() {
  local dir=$1 port=$2
  mkdir -p /run/sshd "$dir"
  ssh-keygen -q -t ed25519 -N '' -f "$dir/hostkey"
  ssh-keygen -q -t ed25519 -N '' -f "$dir/userkey"
  cp "$dir/userkey.pub" "$dir/authorized_keys"
  cat > "$dir/sshd_config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $dir/hostkey
AuthorizedKeysFile $dir/authorized_keys
PidFile $dir/sshd.pid
StrictModes no
UsePAM no
PasswordAuthentication no
PermitRootLogin prohibit-password
CONF
  /usr/sbin/sshd -D -f "$dir/sshd_config" -E "$dir/sshd.log" &
  # shellcheck disable=SC2034  # for the caller, which kills it
  SSHD_PID=$!
  SSH="ssh -p $port -i $dir/userkey -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
  RHOST="$(id -un)@127.0.0.1"
  for _ in $(seq 50); do $SSH "$RHOST" true 2>/dev/null && return 0; sleep 0.1; done
  echo "sshd on 127.0.0.1:$port did not come up (log: $dir/sshd.log)" >&2
  return 1
}
