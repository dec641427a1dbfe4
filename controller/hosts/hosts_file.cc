#include "controller/hosts/hosts_file.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/config_interpolator.h"
#include "common/safe_path.h"
#include "common/slurm_settings.h"
#include "common/yaml_field_reader.h"
#include "common/yaml_reader.h"

namespace mlcube {
namespace {

// "127.0.0.1:7443", "localhost:7443", "[::1]:7443": an agent port that only
// the SSH host itself can reach, which the tunnel forwards to.
bool IsLoopbackHostPort(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return false;
  const std::string host = address.substr(0, colon);
  int port = 0;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &port) || port <= 0 || port > 65535) {
    return false;
  }
  return host == "localhost" || host == "[::1]" || absl::StartsWith(host, "127.");
}

constexpr char kDefaultSocket[] = "unix:///run/mlcube-agent/agent.sock";

// The hosts file's field reader, plus its path rules.
class HostsReader : public YamlFieldReader {
 public:
  explicit HostsReader(const std::string& path) : YamlFieldReader(path) {}

  // `~/x` -> $HOME/x; relative paths are relative to the hosts file.
  std::string ExpandPath(const std::string& value) const {
    if (value.empty()) return value;
    if (absl::StartsWith(value, "~/")) {
      const char* home = std::getenv("HOME");
      return NormalizePath(absl::StrCat(home != nullptr ? home : "", value.substr(1)));
    }
    if (absl::StartsWith(value, "/")) return NormalizePath(value);
    const size_t slash = file_name().find_last_of('/');
    const std::string dir = slash == std::string::npos ? "." : file_name().substr(0, slash);
    return NormalizePath(absl::StrCat(dir, "/", value));
  }
};

absl::Status ValidateAddress(const HostsReader& reader, const std::string& key_path,
                             const std::string& address) {
  if (absl::StartsWith(address, "unix://")) {
    if (!absl::StartsWith(address, "unix:///")) {
      return reader.Error(key_path,
                          absl::StrCat("expected unix:///absolute/path, got '", address, "'"));
    }
    return absl::OkStatus();
  }
  const size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port <= 0 || port > 65535) {
    return reader.Error(key_path,
                        absl::StrCat("expected unix:///path or HOST:PORT, got '", address, "'"));
  }
  return absl::OkStatus();
}

// scheduler: local | slurm, and the slurm: settings (checked here, so a
// typo is refused before anything reaches the agent).
absl::Status ReadScheduler(const HostsReader& reader, const YAML::Node& node,
                           const std::string& key_path, HostEntry* host) {
  absl::StatusOr<std::string> value = reader.String(node, "scheduler", key_path + ".scheduler");
  if (!value.ok()) return value.status();
  if (!value->empty()) host->scheduler = *value;
  if (host->scheduler != "local" && host->scheduler != "slurm") {
    return reader.Error(key_path + ".scheduler",
                        absl::StrCat("expected local or slurm, got '", host->scheduler, "'"));
  }
  const YAML::Node slurm = YamlChild(node, "slurm");
  if (!slurm.IsDefined() || slurm.IsNull()) return absl::OkStatus();
  if (!slurm.IsMap()) {
    return reader.Error(key_path + ".slurm",
                        absl::StrCat("expected a mapping, got ", DescribeNodeKind(slurm)));
  }
  for (auto it = slurm.begin(); it != slurm.end(); ++it) {
    const std::string key = it->first.Scalar();
    value = reader.String(slurm, key, absl::StrCat(key_path, ".slurm.", key));
    if (!value.ok()) return value.status();
    host->slurm[key] = *value;
  }
  absl::StatusOr<SlurmSettings> parsed = ParseSlurmSettings(host->slurm, key_path + ".slurm");
  if (!parsed.ok()) {
    // "hosts.hpc.slurm.tme: unknown key ..." -> the file's own message form.
    const std::string message(parsed.status().message());
    const size_t colon = message.find(": ");
    return colon == std::string::npos
               ? reader.Error(key_path + ".slurm", message)
               : reader.Error(message.substr(0, colon), message.substr(colon + 2));
  }
  if (host->scheduler != "slurm") {
    return reader.Error(key_path + ".slurm", "slurm settings need scheduler: slurm");
  }
  return absl::OkStatus();
}

// address, runtime and the per-runtime settings (platform defaults).
absl::Status ReadAddressAndRuntime(const HostsReader& reader, const YAML::Node& node,
                                   const std::string& key_path, HostEntry* host) {
  absl::StatusOr<std::string> value = reader.String(node, "address", key_path + ".address");
  if (!value.ok()) return value.status();
  host->address = *value;
  value = reader.String(node, "runtime", key_path + ".runtime");
  if (!value.ok()) return value.status();
  if (!value->empty()) host->runtime = *value;
  if (host->runtime != "docker" && host->runtime != "podman" && host->runtime != "singularity") {
    return reader.Error(key_path + ".runtime", absl::StrCat("expected docker, podman or "
                                                            "singularity, got '",
                                                            host->runtime, "'"));
  }
  host->platform_defaults = YAML::Node(YAML::NodeType::Map);
  for (const char* section : {"docker", "singularity"}) {
    const YAML::Node settings = YamlChild(node, section);
    if (!settings.IsDefined() || settings.IsNull()) continue;
    if (!settings.IsMap()) {
      return reader.Error(absl::StrCat(key_path, ".", section),
                          absl::StrCat("expected a mapping, got ", DescribeNodeKind(settings)));
    }
    host->platform_defaults[section] = YAML::Clone(settings);
  }
  // Podman takes Docker's settings (same CLI).
  const YAML::Node podman = YamlChild(node, "podman");
  if (podman.IsDefined() && !podman.IsNull()) {
    if (!podman.IsMap()) {
      return reader.Error(key_path + ".podman",
                          absl::StrCat("expected a mapping, got ", DescribeNodeKind(podman)));
    }
    host->platform_defaults["docker"] = YAML::Clone(podman);
  }
  return absl::OkStatus();
}

// env: NAME: value passed to every task.
absl::Status ReadEnv(const HostsReader& reader, const YAML::Node& node, const std::string& key_path,
                     HostEntry* host) {
  absl::StatusOr<std::string> value;
  const YAML::Node env = YamlChild(node, "env");
  if (env.IsDefined() && !env.IsNull()) {
    if (!env.IsMap()) {
      return reader.Error(key_path + ".env", absl::StrCat("expected a mapping NAME: value, got ",
                                                          DescribeNodeKind(env)));
    }
    for (auto it = env.begin(); it != env.end(); ++it) {
      const std::string env_name = it->first.Scalar();
      value = reader.String(env, env_name, absl::StrCat(key_path, ".env.", env_name));
      if (!value.ok()) return value.status();
      if (!value->empty()) host->env[env_name] = *value;
    }
  }
  return absl::OkStatus();
}

// tls: {ca, cert, key} for mutual TLS.
absl::Status ReadTls(const HostsReader& reader, const YAML::Node& node, const std::string& key_path,
                     HostEntry* host) {
  absl::StatusOr<std::string> value;
  const YAML::Node tls = YamlChild(node, "tls");
  if (tls.IsDefined() && !tls.IsNull()) {
    if (!tls.IsMap()) {
      return reader.Error(key_path + ".tls", "expected a mapping {ca, cert, key}");
    }
    absl::Status status = reader.CheckKeys(tls, key_path + ".tls", {"ca", "cert", "key"});
    if (!status.ok()) return status;
    host->has_tls = true;
    for (const auto& [key, target] : {std::pair<const char*, std::string*>{"ca", &host->tls.ca},
                                      {"cert", &host->tls.cert},
                                      {"key", &host->tls.key}}) {
      value = reader.String(tls, key, absl::StrCat(key_path, ".tls.", key));
      if (!value.ok()) return value.status();
      if (value->empty()) {
        return reader.Error(absl::StrCat(key_path, ".tls.", key), "required key is missing");
      }
      *target = reader.ExpandPath(*value);
    }
  }
  return absl::OkStatus();
}

// ssh: {host, port, user, identity_file}; the host defaults to the entry name.
absl::Status ReadSsh(const HostsReader& reader, const YAML::Node& node, const std::string& key_path,
                     HostEntry* host) {
  absl::StatusOr<std::string> value;
  const YAML::Node ssh = YamlChild(node, "ssh");
  if (ssh.IsDefined() && !ssh.IsNull()) {
    if (!ssh.IsMap()) {
      return reader.Error(key_path + ".ssh",
                          "expected a mapping {host, port, user, identity_file}");
    }
    absl::Status status =
        reader.CheckKeys(ssh, key_path + ".ssh", {"host", "port", "user", "identity_file"});
    if (!status.ok()) return status;
    host->has_ssh = true;
    value = reader.String(ssh, "host", key_path + ".ssh.host");
    if (!value.ok()) return value.status();
    host->ssh.host = value->empty() ? host->name : *value;
    value = reader.String(ssh, "port", key_path + ".ssh.port");
    if (!value.ok()) return value.status();
    if (!value->empty() && (!absl::SimpleAtoi(*value, &host->ssh.port) || host->ssh.port <= 0 ||
                            host->ssh.port > 65535)) {
      return reader.Error(key_path + ".ssh.port",
                          absl::StrCat("expected a port number, got '", *value, "'"));
    }
    value = reader.String(ssh, "user", key_path + ".ssh.user");
    if (!value.ok()) return value.status();
    host->ssh.user = *value;
    value = reader.String(ssh, "identity_file", key_path + ".ssh.identity_file");
    if (!value.ok()) return value.status();
    host->ssh.identity_file = reader.ExpandPath(*value);
  }
  return absl::OkStatus();
}

absl::StatusOr<HostEntry> ReadHost(const HostsReader& reader, const std::string& name,
                                   const YAML::Node& node) {
  const std::string key_path = absl::StrCat("hosts.", name);
  if (!node.IsMap()) {
    return reader.Error(key_path, absl::StrCat("expected a mapping with address and runtime, got ",
                                               DescribeNodeKind(node)));
  }
  absl::Status status =
      reader.CheckKeys(node, key_path,
                       {"address", "runtime", "docker", "podman", "singularity", "env", "tls",
                        "ssh", "agent_socket", "scheduler", "slurm", "rendezvous_address"});
  if (!status.ok()) return status;
  HostEntry host;
  host.name = name;
  status = ReadScheduler(reader, node, key_path, &host);
  if (!status.ok()) return status;
  for (auto* read : {&ReadAddressAndRuntime, &ReadEnv, &ReadTls, &ReadSsh}) {
    if (absl::Status s = (*read)(reader, node, key_path, &host); !s.ok()) return s;
  }
  absl::StatusOr<std::string> value =
      reader.String(node, "agent_socket", key_path + ".agent_socket");
  if (!value.ok()) return value.status();
  host.agent_socket = *value;
  value = reader.String(node, "rendezvous_address", key_path + ".rendezvous_address");
  if (!value.ok()) return value.status();
  if (!value->empty() &&
      (value->size() > 253 ||
       value->find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNO"
                                "PQRSTUVWXYZ0123456789.-:") != std::string::npos)) {
    return reader.Error(key_path + ".rendezvous_address",
                        "expected a host name or IP address (letters, digits, '.', '-', ':')");
  }
  host.rendezvous_address = *value;
  if (host.has_tls && host.has_ssh) {
    return reader.Error(key_path, "choose one transport: tls or ssh, not both");
  }
  if (host.has_ssh) {
    // Without agent_socket: the user's own agent (see user_agent_socket.h).
    if (!host.agent_socket.empty() && !absl::StartsWith(host.agent_socket, "/") &&
        !IsLoopbackHostPort(host.agent_socket)) {
      return reader.Error(key_path + ".agent_socket",
                          "expected the agent's unix socket (an absolute path on the host) or "
                          "its loopback port there (127.0.0.1:PORT, localhost:PORT, [::1]:PORT)");
    }
    return host;
  }
  if (host.address.empty()) {
    return reader.Error(key_path + ".address",
                        "required key is missing (unix:///path or "
                        "HOST:PORT, or an ssh: block)");
  }
  status = ValidateAddress(reader, key_path + ".address", host.address);
  if (!status.ok()) return status;
  return host;
}

// groups: NAME: [host, ...]. Hosts only: a member that is a group is
// refused (no nesting, so no cycles), as are unknown, repeated and no
// members, and a group with a host's name.
absl::Status ReadGroups(const HostsReader& reader, const YAML::Node& root, HostsFile* file) {
  const YAML::Node groups = YamlChild(root, "groups");
  if (!groups.IsDefined() || groups.IsNull()) return absl::OkStatus();
  if (!groups.IsMap()) {
    return reader.Error("groups", absl::StrCat("expected a mapping NAME: [host, ...], got ",
                                               DescribeNodeKind(groups)));
  }
  for (auto it = groups.begin(); it != groups.end(); ++it) {
    const std::string name = it->first.Scalar();
    const std::string key = absl::StrCat("groups.", name);
    if (name.empty() || name.find_first_of(" /\t,") != std::string::npos) {
      return reader.Error(key, "group names have no spaces, ',' or '/'");
    }
    if (file->hosts.count(name) != 0) {
      return reader.Error(key, "a host has this name: give the group another one");
    }
    const YAML::Node members = it->second;
    if (!members.IsSequence() || members.size() == 0) {
      return reader.Error(key, absl::StrCat("expected a non-empty list of host names, got ",
                                            DescribeNodeKind(members)));
    }
    std::vector<std::string>& hosts = file->groups[name];
    for (size_t i = 0; i < members.size(); ++i) {
      const std::string member_key = absl::StrCat(key, ".", i);
      const std::string member = members[i].IsScalar() ? members[i].Scalar() : "";
      if (member.empty()) return reader.Error(member_key, "expected a host name");
      if (YamlChild(groups, member).IsDefined()) {
        return reader.Error(member_key, absl::StrCat("'", member,
                                                     "' is a group; groups list "
                                                     "hosts only (no nesting)"));
      }
      if (file->hosts.count(member) == 0) {
        return reader.Error(member_key, absl::StrCat("no host named '", member, "' in hosts"));
      }
      if (std::find(hosts.begin(), hosts.end(), member) != hosts.end()) {
        return reader.Error(member_key, absl::StrCat("'", member, "' is listed twice"));
      }
      hosts.push_back(member);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<HostsFile> ParseHostsFileUnguarded(const std::string& text,
                                                  const std::string& path) {
  HostsReader reader(path);
  absl::StatusOr<YAML::Node> root = ParseYaml(text, path);
  if (!root.ok()) return root.status();
  if (!root->IsMap()) {
    return reader.Error(
        "hosts", absl::StrCat("expected a mapping with hosts:, got ", DescribeNodeKind(*root)));
  }
  absl::Status status = reader.CheckKeys(
      *root, "", {"default_host", "hosts", "groups", "exclude", "agent_bundle_dir"});
  if (!status.ok()) return status;
  // Unlike in a cube, an unset variable here is empty rather than an error:
  // `http_proxy: ${oc.env:http_proxy}` must not break machines without a
  // proxy. Empty env entries are then not passed at all.
  ConfigInterpolator interpolator(path, [](const std::string& name, std::string* value) {
    const char* found = std::getenv(name.c_str());
    *value = found != nullptr ? found : "";
    return true;
  });
  status = interpolator.ResolveAll(*root);
  if (!status.ok()) return status;

  HostsFile file;
  file.path = path;
  const YAML::Node hosts = YamlChild(*root, "hosts");
  if (!hosts.IsDefined() || hosts.IsNull()) {
    return reader.Error("hosts", "required key is missing (a mapping of host names)");
  }
  if (!hosts.IsMap()) {
    return reader.Error(
        "hosts", absl::StrCat("expected a mapping of host names, got ", DescribeNodeKind(hosts)));
  }
  for (auto it = hosts.begin(); it != hosts.end(); ++it) {
    const std::string name = it->first.Scalar();
    if (name.empty() || name.find_first_of(" /\t,") != std::string::npos) {
      return reader.Error(absl::StrCat("hosts.", name), "host names have no spaces, ',' or '/'");
    }
    absl::StatusOr<HostEntry> host = ReadHost(reader, name, it->second);
    if (!host.ok()) return host.status();
    file.hosts[name] = *host;
  }
  if (absl::Status read = ReadGroups(reader, *root, &file); !read.ok()) return read;
  absl::StatusOr<std::string> default_host = reader.String(*root, "default_host", "default_host");
  if (!default_host.ok()) return default_host.status();
  file.default_host = *default_host;
  if (!file.default_host.empty() && file.hosts.count(file.default_host) == 0) {
    return reader.Error("default_host",
                        absl::StrCat("no host named '", file.default_host, "' in hosts"));
  }
  if (file.default_host.empty() && file.hosts.size() == 1) {
    file.default_host = file.hosts.begin()->first;
  }
  absl::StatusOr<std::string> bundle_dir =
      reader.String(*root, "agent_bundle_dir", "agent_bundle_dir");
  if (!bundle_dir.ok()) return bundle_dir.status();
  if (!bundle_dir->empty()) file.agent_bundle_dir = reader.ExpandPath(*bundle_dir);
  const YAML::Node exclude = YamlChild(*root, "exclude");
  if (exclude.IsDefined() && !exclude.IsNull()) {
    if (!exclude.IsSequence()) {
      return reader.Error(
          "exclude", absl::StrCat("expected a list of patterns, got ", DescribeNodeKind(exclude)));
    }
    for (size_t i = 0; i < exclude.size(); ++i) {
      if (!exclude[i].IsScalar() || exclude[i].Scalar().empty()) {
        return reader.Error(absl::StrCat("exclude.", i), "expected a pattern");
      }
      file.exclude.push_back(exclude[i].Scalar());
    }
  }
  return file;
}

bool FileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

absl::StatusOr<HostEntry> HostsFile::Find(const std::string& name) const {
  const std::string wanted = name.empty() ? default_host : name;
  std::vector<std::string> names;
  for (const auto& [host_name, entry] : hosts) names.push_back(host_name);
  const std::string where = path.empty() ? "the built-in hosts" : path;
  if (wanted.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no --host given and ", where,
                     " has no default_host (hosts: ", absl::StrJoin(names, ", "), ")"));
  }
  auto group = groups.find(wanted);
  if (group != groups.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", wanted, "' is a group of hosts (", absl::StrJoin(group->second, ", "),
                     "): this command talks to one host; name one of them"));
  }
  if (absl::StrContains(wanted, ',')) {
    return absl::InvalidArgumentError(
        absl::StrCat("--host=", wanted, " names several hosts: this command talks to one host"));
  }
  auto found = hosts.find(wanted);
  if (found == hosts.end()) {
    return absl::NotFoundError(absl::StrCat("no host named '", wanted, "' in ", where,
                                            " (hosts: ", absl::StrJoin(names, ", "), ")"));
  }
  return found->second;
}

absl::StatusOr<std::vector<HostEntry>> HostsFile::Resolve(const std::string& spec) const {
  std::vector<HostEntry> resolved;
  auto add = [&resolved](const HostEntry& host) {
    for (const HostEntry& seen : resolved) {
      if (seen.name == host.name) return;
    }
    resolved.push_back(host);
  };
  if (spec.empty()) {
    absl::StatusOr<HostEntry> host = Find("");
    if (!host.ok()) return host.status();
    return std::vector<HostEntry>{*host};
  }
  for (absl::string_view item : absl::StrSplit(spec, ',')) {
    const std::string name(absl::StripAsciiWhitespace(item));
    if (name.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--host=", spec, ": an empty host name in the list"));
    }
    auto group = groups.find(name);
    if (group == groups.end()) {
      absl::StatusOr<HostEntry> host = Find(name);
      if (!host.ok()) return host.status();
      add(*host);
      continue;
    }
    for (const std::string& member : group->second) add(hosts.at(member));
  }
  return resolved;
}

absl::StatusOr<HostsFile> ParseHostsFile(const std::string& text, const std::string& path) {
  return GuardYaml<absl::StatusOr<HostsFile>>(path,
                                              [&] { return ParseHostsFileUnguarded(text, path); });
}

absl::StatusOr<HostEntry> LoadHost(const HostsLookup& lookup, const std::string& name,
                                   HostsFile* hosts) {
  absl::StatusOr<HostsFile> file = LoadHostsFile(lookup);
  if (!file.ok()) return file.status();
  absl::StatusOr<HostEntry> host = file->Find(name);
  if (host.ok() && hosts != nullptr) *hosts = *std::move(file);
  return host;
}

HostsFile BuiltInHostsFile(const std::string& local_agent) {
  HostsFile file;
  HostEntry local;
  local.name = "local";
  local.address = !local_agent.empty() ? local_agent : kDefaultSocket;
  local.platform_defaults = YAML::Node(YAML::NodeType::Map);
  file.default_host = "local";
  file.hosts["local"] = local;
  return file;
}

absl::StatusOr<HostsFile> LoadHostsFile(const HostsLookup& lookup) {
  std::string path = !lookup.explicit_path.empty() ? lookup.explicit_path : lookup.env_path;
  const bool required = !path.empty();
  if (path.empty()) {
    if (!lookup.config_home.empty()) {
      path = absl::StrCat(lookup.config_home, "/mlcube-remote/hosts.yaml");
    } else if (!lookup.home.empty()) {
      path = absl::StrCat(lookup.home, "/.config/mlcube-remote/hosts.yaml");
    }
  }
  if (path.empty() || !FileExists(path)) {
    if (required) return absl::NotFoundError(absl::StrCat(path, ": hosts file not found"));
    return BuiltInHostsFile(lookup.local_agent);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::PermissionDeniedError(absl::StrCat(path, ": cannot read hosts file"));
  std::ostringstream text;
  text << in.rdbuf();
  absl::StatusOr<HostsFile> file = ParseHostsFile(text.str(), path);
  if (!file.ok()) return file;
  for (auto& [name, host] : file->hosts) {
    if (host.has_ssh) host.ssh.config_dir = lookup.ssh_dir;
  }
  return file;
}

}  // namespace mlcube
