#include "controller/transport/ssh_session.h"

#include <stdlib.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace mlcube {
namespace {

std::string OptionString(ssh_session session, enum ssh_options_e option) {
  char* value = nullptr;
  if (ssh_options_get(session, option, &value) != SSH_OK || value == nullptr) return "";
  std::string out = value;
  ssh_string_free_char(value);
  return out;
}

// "SHA256:..." of the server's host key, and its type ("ssh-ed25519").
std::string ServerKeyFingerprint(ssh_session session) {
  ssh_key key = nullptr;
  if (ssh_get_server_publickey(session, &key) != SSH_OK) return "(no key)";
  unsigned char* hash = nullptr;
  size_t length = 0;
  std::string out = "(unknown)";
  if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &length) == 0) {
    char* text = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, length);
    if (text != nullptr) {
      out = absl::StrCat(ssh_key_type_to_char(ssh_key_type(key)), " ", text);
      ssh_string_free_char(text);
    }
    ssh_clean_pubkey_hash(&hash);
  }
  ssh_key_free(key);
  return out;
}

// Known-hosts files name a non-default port as "[host]:port".
std::string KnownHostsName(const std::string& host, unsigned port) {
  return port == 22 ? host : absl::StrCat("[", host, "]:", port);
}

}  // namespace

absl::Status SshSession::SetOptions(const SshSettings& settings, const std::string& ssh_dir) {
  ssh_session raw = session_;
  auto bad = [&](absl::string_view what) {
    return absl::InvalidArgumentError(
        absl::StrCat("ssh to '", settings.host, "': ", what, ": ", ssh_get_error(raw)));
  };
  if (!ssh_dir.empty() && ssh_options_set(raw, SSH_OPTIONS_SSH_DIR, ssh_dir.c_str()) != SSH_OK) {
    return bad("bad ssh directory");
  }
  // The host first: ~/.ssh/config's `Host` blocks match against it.
  if (ssh_options_set(raw, SSH_OPTIONS_HOST, settings.host.c_str()) != SSH_OK) {
    return bad("bad host");
  }
  if (ssh_options_parse_config(raw, nullptr) != SSH_OK) return bad("cannot read the ssh config");
  // Explicit hosts-file settings win over the ssh config, as ssh's -p/-l/-i do.
  if (!settings.user.empty() &&
      ssh_options_set(raw, SSH_OPTIONS_USER, settings.user.c_str()) != SSH_OK) {
    return bad("bad user");
  }
  if (settings.port > 0) {
    const unsigned port = static_cast<unsigned>(settings.port);
    ssh_options_set(raw, SSH_OPTIONS_PORT, &port);
  }
  if (!settings.identity_file.empty()) {
    if (access(settings.identity_file.c_str(), R_OK) != 0) {
      return absl::NotFoundError(absl::StrCat("ssh to '", settings.host, "': identity_file ",
                                              settings.identity_file, " cannot be read"));
    }
    ssh_options_set(raw, SSH_OPTIONS_IDENTITY, settings.identity_file.c_str());
  }
  const long timeout_seconds = 10;
  ssh_options_set(raw, SSH_OPTIONS_TIMEOUT, &timeout_seconds);
  user_ = OptionString(raw, SSH_OPTIONS_USER);
  host_ = OptionString(raw, SSH_OPTIONS_HOST);
  ssh_options_get_port(raw, &port_);
  description_ = absl::StrCat(user_, "@", host_, ":", port_);
  return absl::OkStatus();
}

absl::Status SshSession::CheckHostKey() {
  // Strict host key checking: no trust on first use, no silent replacement.
  ssh_session raw = session_;
  const std::string known_hosts = OptionString(raw, SSH_OPTIONS_KNOWNHOSTS);
  const std::string fingerprint = ServerKeyFingerprint(raw);
  const std::string known_name = KnownHostsName(host_, port_);
  switch (ssh_session_is_known_server(raw)) {
    case SSH_KNOWN_HOSTS_OK:
      return absl::OkStatus();
    case SSH_KNOWN_HOSTS_UNKNOWN:
    case SSH_KNOWN_HOSTS_NOT_FOUND:
      return absl::FailedPreconditionError(absl::StrCat(
          "ssh: the host key of ", known_name, " is not in ", known_hosts, " (it offered ",
          fingerprint, "). Check that fingerprint with the host's administrator, then accept it: ",
          "connect once with `ssh -p ", port_, " ", user_, "@", host_, "`, or run `ssh-keyscan -p ",
          port_, " ", host_, " >> ", known_hosts, "`"));
    case SSH_KNOWN_HOSTS_CHANGED:
      return absl::PermissionDeniedError(absl::StrCat(
          "ssh: REFUSED: the host key of ", known_name, " has CHANGED (it now offers ", fingerprint,
          ", ", known_hosts,
          " has another). Someone may be intercepting the connection. If the host was "
          "reinstalled, verify the new key, then remove the old one with `ssh-keygen -R '",
          known_name, "' -f ", known_hosts, "` and accept the new one"));
    case SSH_KNOWN_HOSTS_OTHER:
      return absl::PermissionDeniedError(absl::StrCat(
          "ssh: REFUSED: ", known_name, " offered a key of another type (", fingerprint,
          ") than the one recorded in ", known_hosts,
          "; this can be an attack. Verify the key and update ", known_hosts, " yourself"));
    case SSH_KNOWN_HOSTS_ERROR:
    default:
      return absl::UnavailableError(absl::StrCat("ssh to '", host_, "': cannot check ", known_hosts,
                                                 ": ", ssh_get_error(raw)));
  }
}

absl::Status SshSession::Authenticate(const SshSettings& settings) {
  // ssh-agent first, then the identity file, or (without one) the ssh
  // config's IdentityFile entries and the default keys, as `ssh -i` does.
  ssh_session raw = session_;
  int auth = ssh_userauth_none(raw, nullptr);
  if (auth != SSH_AUTH_SUCCESS && settings.identity_file.empty()) {
    auth = ssh_userauth_publickey_auto(raw, nullptr, nullptr);
  } else if (auth != SSH_AUTH_SUCCESS) {
    if (getenv("SSH_AUTH_SOCK") != nullptr) auth = ssh_userauth_agent(raw, nullptr);
    if (auth != SSH_AUTH_SUCCESS && auth != SSH_AUTH_ERROR) {
      ssh_key key = nullptr;
      if (ssh_pki_import_privkey_file(settings.identity_file.c_str(), nullptr, nullptr, nullptr,
                                      &key) != SSH_OK) {
        return absl::PermissionDeniedError(absl::StrCat(
            "ssh to '", settings.host, "': cannot load the key ", settings.identity_file,
            " (a passphrase-protected key must be loaded into ssh-agent with `ssh-add`)"));
      }
      auth = ssh_userauth_publickey(raw, nullptr, key);
      ssh_key_free(key);
    }
  }
  switch (auth) {
    case SSH_AUTH_SUCCESS:
      return absl::OkStatus();
    case SSH_AUTH_PARTIAL:
      return absl::PermissionDeniedError(absl::StrCat(
          "ssh: ", description_,
          " accepted the key but asks for a second factor; mlcube-remote only uses keys"));
    case SSH_AUTH_DENIED:
      return absl::PermissionDeniedError(absl::StrCat(
          "ssh: ", description_, " refused every key offered (ssh-agent, ",
          settings.identity_file.empty() ? "the ssh config's IdentityFile, the default keys"
                                         : settings.identity_file,
          "). Add your public key to ~/.ssh/authorized_keys on the host, set "
          "ssh.identity_file, or load a passphrase-protected key with `ssh-add`"));
    default:
      return absl::UnavailableError(
          absl::StrCat("ssh: authentication with ", description_, " failed: ", ssh_get_error(raw)));
  }
}

absl::StatusOr<std::unique_ptr<SshSession>> SshSession::Connect(const SshSettings& settings,
                                                                const std::string& ssh_dir) {
  ssh_session raw = ssh_new();
  if (raw == nullptr) return absl::ResourceExhaustedError("ssh: cannot create a libssh session");
  std::unique_ptr<SshSession> session(new SshSession(raw));
  if (absl::Status set = session->SetOptions(settings, ssh_dir); !set.ok()) return set;
  if (ssh_connect(raw) != SSH_OK) {
    return absl::UnavailableError(
        absl::StrCat("ssh: cannot connect to ", session->description_, ": ", ssh_get_error(raw)));
  }
  if (absl::Status known = session->CheckHostKey(); !known.ok()) return known;
  if (absl::Status authenticated = session->Authenticate(settings); !authenticated.ok()) {
    return authenticated;
  }
  return session;
}

SshSession::~SshSession() {
  if (event_ != nullptr) {
    ssh_event_remove_session(event_, session_);
    ssh_event_free(event_);
  }
  if (ssh_is_connected(session_)) ssh_disconnect(session_);
  ssh_free(session_);
}

absl::Status SshSession::StartEventLoop() {
  if (event_ != nullptr) return absl::OkStatus();
  event_ = ssh_event_new();
  if (event_ == nullptr || ssh_event_add_session(event_, session_) != SSH_OK) {
    return absl::InternalError("ssh: cannot create the libssh event loop");
  }
  ssh_set_blocking(session_, 0);
  return absl::OkStatus();
}

int SshSession::fd() const { return ssh_get_fd(session_); }

bool SshSession::WantsWrite() const {
  return (ssh_get_poll_flags(session_) & SSH_WRITE_PENDING) != 0;
}

absl::Status SshSession::ProcessIo() {
  if (ssh_event_dopoll(event_, 0) == SSH_ERROR || !Connected()) {
    broken_ = true;
    return absl::UnavailableError(
        absl::StrCat("ssh: connection to ", description_, " lost: ", ssh_get_error(session_)));
  }
  return absl::OkStatus();
}

bool SshSession::Connected() const {
  return !broken_ && ssh_is_connected(session_) != 0 &&
         (ssh_get_status(session_) & (SSH_CLOSED | SSH_CLOSED_ERROR)) == 0;
}

}  // namespace mlcube
