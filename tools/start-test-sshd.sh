#!/usr/bin/env bash
# Runs a throwaway OpenSSH sshd for the SSH-transport tests, in the foreground
# (exec: the caller's child pid is sshd's; SIGTERM stops it). Everything lives
# in DIR: host key, config, authorized_keys. Only key authentication, for one
# user, on one address; streamlocal and TCP forwarding allowed (the transport
# uses direct-streamlocal channels to the agent's unix socket).
#
# Usage: start-test-sshd.sh DIR PORT USER AUTHORIZED_KEYS_FILE [LISTEN_ADDRESS]
#   LISTEN_ADDRESS defaults to 127.0.0.1. Run as root (sshd switches users).
# Example (then: ssh -p 2222 -i key mlcube@127.0.0.1):
#   tools/start-test-sshd.sh /tmp/sshd 2222 mlcube key.pub
set -euo pipefail

log() { echo "start-test-sshd: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $# -ge 4 ]] || die "usage: $0 DIR PORT USER AUTHORIZED_KEYS_FILE [LISTEN_ADDRESS]"
DIR=$1 PORT=$2 USER_NAME=$3 KEYS=$4 LISTEN=${5:-127.0.0.1}
[[ $(id -u) -eq 0 ]] || die "must run as root"
[[ -x /usr/sbin/sshd ]] || die "OpenSSH server missing: apt-get install -y openssh-server"
id "$USER_NAME" >/dev/null 2>&1 || die "no user $USER_NAME (tools/create-test-user.sh $USER_NAME)"
[[ -r $KEYS ]] || die "cannot read $KEYS"

# sshd's privilege separation directory.
mkdir -p /run/sshd
chmod 0755 /run/sshd

# sshd refuses key logins to accounts whose password field starts with "!"
# (locked, useradd's default) unless PAM is used; PAM's session modules do not
# work in containers (pam_loginuid). "*" means "no password" just the same.
if [[ $(getent shadow "$USER_NAME" | cut -d: -f2) == '!'* ]]; then
  usermod -p '*' "$USER_NAME"
fi

mkdir -p "$DIR/authorized_keys"
chmod 0755 "$DIR" "$DIR/authorized_keys"
[[ -f $DIR/host_ed25519_key ]] || ssh-keygen -q -t ed25519 -N '' -C test-sshd -f "$DIR/host_ed25519_key"
install -m 0644 "$KEYS" "$DIR/authorized_keys/$USER_NAME"

cat >"$DIR/sshd_config" <<CONF
Port $PORT
ListenAddress $LISTEN
HostKey $DIR/host_ed25519_key
PidFile none
AuthorizedKeysFile $DIR/authorized_keys/%u
# The test dir is under /tmp (mode 1777), which StrictModes rejects.
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AllowUsers $USER_NAME
AllowStreamLocalForwarding yes
AllowTcpForwarding yes
PermitRootLogin no
LogLevel VERBOSE
CONF

/usr/sbin/sshd -t -f "$DIR/sshd_config" || die "sshd rejected $DIR/sshd_config"
exec /usr/sbin/sshd -D -e -f "$DIR/sshd_config"
