#include "agent/server/certs_init.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "agent/server/caller_identity.h"
#include "agent/server/tls_certificate_factory.h"

namespace mlcube {
namespace {

constexpr const char* kFiles[] = {"ca.pem",     "ca.key",     "server.pem",
                                  "server.key", "client.pem", "client.key"};

std::string InvokingUser() {
  struct passwd* pw = getpwuid(getuid());
  return pw != nullptr ? pw->pw_name : absl::StrCat("uid", getuid());
}

}  // namespace

absl::Status WriteNewFile(const std::string& path, const std::string& content, int mode) {
  // O_EXCL: never replace a key someone already uses; the mode is set at
  // creation so a key is never readable by others, not even briefly.
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    return absl::AlreadyExistsError(absl::StrCat("cannot create ", path, ": ", strerror(errno)));
  }
  fchmod(fd, mode);  // umask may have removed bits; never adds any for keys
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n <= 0) {
      close(fd);
      return absl::InternalError(absl::StrCat("cannot write ", path, ": ", strerror(errno)));
    }
    done += n;
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    return absl::InternalError(absl::StrCat("cannot write ", path, ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status CertsInit(const CertsInitOptions& options, std::ostream& out) {
  if (options.dir.empty()) return absl::InvalidArgumentError("certs init: --dir is required");
  if (options.hosts.empty()) {
    return absl::InvalidArgumentError(
        "certs init: give at least one --host (the name controllers use to reach this agent)");
  }
  if (mkdir(options.dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::PermissionDeniedError(
        absl::StrCat("certs init: cannot create ", options.dir, ": ", strerror(errno)));
  }
  for (const char* name : kFiles) {
    const std::string path = absl::StrCat(options.dir, "/", name);
    if (access(path.c_str(), F_OK) == 0) {
      return absl::AlreadyExistsError(
          absl::StrCat("certs init: ", path,
                       " exists; certs init never overwrites keys (choose another --dir)"));
    }
  }
  const std::string client_name =
      options.client_name.empty() ? InvokingUser() : options.client_name;
  if (absl::StatusOr<std::string> identity = CallerIdentityFromCommonName(client_name);
      !identity.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("certs init: --client-name: ", identity.status().message()));
  }

  auto ca = TlsCertificateFactory::MakeCa(absl::StrCat("mlcube-agent CA ", options.hosts[0]));
  if (!ca.ok()) return ca.status();
  CertificateRequest server_request;
  server_request.common_name = options.hosts[0];
  server_request.usage = CertificateRequest::Usage::kServer;
  server_request.subject_alt_names = options.hosts;
  for (const char* local : {"localhost", "127.0.0.1", "::1"}) {
    server_request.subject_alt_names.push_back(local);
  }
  auto server = TlsCertificateFactory::MakeLeaf(*ca, server_request);
  if (!server.ok()) return server.status();
  CertificateRequest client_request;
  client_request.common_name = client_name;
  client_request.usage = CertificateRequest::Usage::kClient;
  auto client = TlsCertificateFactory::MakeLeaf(*ca, client_request);
  if (!client.ok()) return client.status();

  const std::pair<const char*, const PemKeyPair*> pairs[] = {
      {"ca", &*ca}, {"server", &*server}, {"client", &*client}};
  for (const auto& [stem, pair] : pairs) {
    absl::Status s = WriteNewFile(absl::StrCat(options.dir, "/", stem, ".key"), pair->key, 0600);
    if (!s.ok()) return s;
    s = WriteNewFile(absl::StrCat(options.dir, "/", stem, ".pem"), pair->cert, 0644);
    if (!s.ok()) return s;
  }
  const std::string& d = options.dir;
  out << "certs init: wrote " << d << "/{ca,server,client}.{pem,key} (keys mode 0600)\n"
      << "\nOn the agent host, in /etc/mlcube-agent/agent.yaml:\n"
      << "  listen: [unix:///run/mlcube-agent/agent.sock, 0.0.0.0:7443]\n"
      << "  tls: {ca: " << d << "/ca.pem, cert: " << d << "/server.pem, key: " << d
      << "/server.key}\n"
      << "\nOn the laptop (copy ca.pem, client.pem, client.key there), in the hosts file:\n"
      << "  hosts:\n"
      << "    " << options.hosts[0] << ":\n"
      << "      address: " << options.hosts[0] << ":7443\n"
      << "      tls: {ca: ca.pem, cert: client.pem, key: client.key}\n"
      << "\nThe agent will know that client as 'cn-" << client_name
      << "'. Keep ca.key away from the agent host if you can: whoever has it can issue "
         "identities.\n";
  return absl::OkStatus();
}

absl::Status CertsIssueClient(const std::string& dir, const std::string& name, std::ostream& out) {
  // The name becomes the caller's identity and a file name: same rules.
  absl::StatusOr<std::string> identity = CallerIdentityFromCommonName(name);
  if (!identity.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("certs client: --name: ", identity.status().message()));
  }
  if (name == "ca" || name == "server") {
    return absl::InvalidArgumentError("certs client: --name must not be 'ca' or 'server'");
  }
  std::ifstream ca_key(dir + "/ca.key"), ca_cert(dir + "/ca.pem");
  if (!ca_key || !ca_cert) {
    return absl::NotFoundError(absl::StrCat("certs client: cannot read ", dir,
                                            "/ca.key and ca.pem (made by `certs init`)"));
  }
  std::stringstream key_text, cert_text;
  key_text << ca_key.rdbuf();
  cert_text << ca_cert.rdbuf();
  CertificateRequest request;
  request.common_name = name;
  request.usage = CertificateRequest::Usage::kClient;
  auto client = TlsCertificateFactory::MakeLeaf({key_text.str(), cert_text.str()}, request);
  if (!client.ok()) return client.status();
  const std::string stem = absl::StrCat(dir, "/", name);
  absl::Status s = WriteNewFile(stem + ".key", client->key, 0600);
  if (!s.ok()) return s;
  s = WriteNewFile(stem + ".pem", client->cert, 0644);
  if (!s.ok()) return s;
  out << "certs client: wrote " << stem << ".{pem,key} (key mode 0600); the agent knows its "
      << "holder as '" << *identity << "'. Give them ca.pem, " << name << ".pem and " << name
      << ".key for their hosts file:\n  tls: {ca: ca.pem, cert: " << name << ".pem, key: " << name
      << ".key}\n";
  return absl::OkStatus();
}

}  // namespace mlcube
