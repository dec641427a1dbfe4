#include "agent/config/agent_config.h"

#include <errno.h>
#include <linux/magic.h>
#include <sys/vfs.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "agent/log/log_format.h"
#include "common/safe_path.h"
#include "common/yaml_reader.h"

namespace mlcube {
namespace {

absl::Status Bad(const std::string& file, const std::string& key, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(file, ": ", key, ": ", what));
}

absl::StatusOr<std::string> ScalarString(const YAML::Node& node, const std::string& file,
                                         const std::string& key) {
  if (!node.IsScalar()) return Bad(file, key, "expected a string");
  return node.Scalar();
}

absl::StatusOr<int64_t> PositiveInt(const YAML::Node& node, const std::string& file,
                                    const std::string& key) {
  int64_t value = 0;
  if (!node.IsScalar() || !absl::SimpleAtoi(node.Scalar(), &value) || value <= 0) {
    return Bad(file, key, "expected a positive integer");
  }
  return value;
}

absl::StatusOr<bool> Bool(const YAML::Node& node, const std::string& file, const std::string& key) {
  if (node.IsScalar()) {
    const std::string& s = node.Scalar();
    if (s == "true" || s == "yes" || s == "on") return true;
    if (s == "false" || s == "no" || s == "off") return false;
  }
  return Bad(file, key, "expected true or false");
}

absl::Status ParseRuntimes(const YAML::Node& node, const std::string& file, AgentConfig& config) {
  if (!node.IsMap()) return Bad(file, "runtimes", "expected a mapping");
  for (const auto& entry : node) {
    const std::string name = entry.first.as<std::string>();
    const std::string key = absl::StrCat("runtimes.", name);
    auto it = config.runtimes.find(name);
    if (it == config.runtimes.end()) {
      return Bad(file, key, "unknown runtime (expected docker, podman, apptainer or singularity)");
    }
    if (!entry.second.IsMap()) return Bad(file, key, "expected a mapping");
    for (const auto& field : entry.second) {
      const std::string fname = field.first.as<std::string>();
      const std::string fkey = absl::StrCat(key, ".", fname);
      if (fname == "enabled") {
        auto b = Bool(field.second, file, fkey);
        if (!b.ok()) return b.status();
        it->second.enabled = *b;
      } else if (fname == "binary") {
        auto s = ScalarString(field.second, file, fkey);
        if (!s.ok()) return s.status();
        if (s->empty()) return Bad(file, fkey, "must not be empty");
        it->second.binary = *s;
      } else if (fname == "api_socket" && name == "docker") {
        auto s = ScalarString(field.second, file, fkey);
        if (!s.ok()) return s.status();
        if (!s->empty() && (*s)[0] != '/')
          return Bad(file, fkey, "must be an absolute path or \"\"");
        it->second.api_socket = *s;
      } else {
        return Bad(file, fkey,
                   name == "docker" ? "unknown key (expected enabled, binary or api_socket)"
                                    : "unknown key (expected enabled or binary)");
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ParseTls(const YAML::Node& node, const std::string& file, AgentTlsConfig& tls) {
  if (!node.IsMap()) return Bad(file, "tls", "expected a mapping {ca, cert, key}");
  for (const auto& field : node) {
    const std::string name = field.first.as<std::string>();
    const std::string key = absl::StrCat("tls.", name);
    std::string* target = name == "ca"     ? &tls.ca
                          : name == "cert" ? &tls.cert
                          : name == "key"  ? &tls.key
                                           : nullptr;
    if (target == nullptr) return Bad(file, key, "unknown key (expected ca, cert or key)");
    auto s = ScalarString(field.second, file, key);
    if (!s.ok()) return s.status();
    *target = *s;
  }
  for (const auto& [name, value] : {std::pair<const char*, const std::string*>{"ca", &tls.ca},
                                    {"cert", &tls.cert},
                                    {"key", &tls.key}}) {
    if (value->empty()) return Bad(file, absl::StrCat("tls.", name), "required key is missing");
  }
  return absl::OkStatus();
}

absl::Status ParseUnixSocket(const YAML::Node& node, const std::string& file, AgentConfig& config) {
  if (!node.IsMap()) return Bad(file, "unix_socket", "expected a mapping {mode, group}");
  for (const auto& field : node) {
    const std::string name = field.first.as<std::string>();
    const std::string key = absl::StrCat("unix_socket.", name);
    auto s = ScalarString(field.second, file, key);
    if (!s.ok()) return s.status();
    if (name == "mode") {
      char* end = nullptr;
      const long mode = strtol(s->c_str(), &end, 8);
      if (s->empty() || *end != '\0' || mode < 0 || mode > 0777) {
        return Bad(file, key, "expected an octal mode such as \"0660\"");
      }
      config.unix_socket_mode = static_cast<int>(mode);
    } else if (name == "group") {
      if (s->empty()) return Bad(file, key, "must not be empty");
      config.unix_socket_group = *s;
    } else {
      return Bad(file, key, "unknown key (expected mode or group)");
    }
  }
  return absl::OkStatus();
}

// "0", "1048576", "512M", "50G", "2T" (powers of 1024).
absl::StatusOr<int64_t> ByteSize(const YAML::Node& node, const std::string& file,
                                 const std::string& key) {
  const absl::Status bad = Bad(file, key, "expected a byte count such as 0, 1048576, 512M or 50G");
  if (!node.IsScalar() || node.Scalar().empty()) return bad;
  std::string digits = node.Scalar();
  int shift = 0;
  switch (digits.back()) {
    case 'K':
      shift = 10;
      break;
    case 'M':
      shift = 20;
      break;
    case 'G':
      shift = 30;
      break;
    case 'T':
      shift = 40;
      break;
    default:
      break;
  }
  if (shift != 0) digits.pop_back();
  int64_t value = 0;
  if (!absl::SimpleAtoi(digits, &value) || value < 0 || value > (INT64_MAX >> shift)) return bad;
  return value << shift;
}

absl::StatusOr<int64_t> NonNegativeInt(const YAML::Node& node, const std::string& file,
                                       const std::string& key, int64_t max) {
  int64_t value = 0;
  if (!node.IsScalar() || !absl::SimpleAtoi(node.Scalar(), &value) || value < 0 || value > max) {
    return Bad(file, key, absl::StrCat("expected an integer from 0 (no limit) to ", max));
  }
  return value;
}

// A job log's cap: a byte count ("256M") of at least 4096.
absl::StatusOr<int64_t> JobLogBytes(const YAML::Node& node, const std::string& file,
                                    const std::string& key) {
  auto n = ByteSize(node, file, key);
  if (!n.ok()) return n.status();
  if (*n < 4096) return Bad(file, key, "at least 4096");
  return *n;
}

absl::Status ParseLimits(const YAML::Node& node, const std::string& file, IdentityLimits& limits) {
  constexpr char kKeys[] =
      "running_jobs, queued_jobs, stored_bytes, open_streams, connections, "
      "idle_connection_seconds, job_log_bytes, finished_jobs_kept_days, finished_jobs_kept, "
      "task_memory, task_pids";
  if (!node.IsMap()) return Bad(file, "limits", absl::StrCat("expected a mapping {", kKeys, "}"));
  const std::map<std::string, int*> counts = {
      {"running_jobs", &limits.running_jobs},
      {"queued_jobs", &limits.queued_jobs},
      {"open_streams", &limits.open_streams},
      {"connections", &limits.connections},
      {"idle_connection_seconds", &limits.idle_connection_seconds},
      {"finished_jobs_kept_days", &limits.finished_jobs_kept_days},
      {"finished_jobs_kept", &limits.finished_jobs_kept}};
  for (const auto& field : node) {
    const std::string name = field.first.as<std::string>();
    const std::string key = absl::StrCat("limits.", name);
    if (auto count = counts.find(name); count != counts.end()) {
      auto n = NonNegativeInt(field.second, file, key, 100000);
      if (!n.ok()) return n.status();
      *count->second = static_cast<int>(*n);
    } else if (name == "stored_bytes") {
      auto n = ByteSize(field.second, file, key);
      if (!n.ok()) return n.status();
      limits.stored_bytes = *n;
    } else if (name == "task_memory") {
      auto n = ByteSize(field.second, file, key);
      if (!n.ok()) return n.status();
      if (*n != 0 && *n < (int64_t{6} << 20)) return Bad(file, key, "at least 6M (or 0: none)");
      limits.task_memory = *n;
      limits.task_limits_set = true;
    } else if (name == "task_pids") {
      auto n = NonNegativeInt(field.second, file, key, 4194304);
      if (!n.ok()) return n.status();
      limits.task_pids = static_cast<int>(*n);
      limits.task_limits_set = true;
    } else if (name == "job_log_bytes") {
      auto n = JobLogBytes(field.second, file, key);
      if (!n.ok()) return n.status();
      limits.job_log_bytes = *n;
    } else {
      return Bad(file, key, absl::StrCat("unknown key (expected ", kKeys, ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status ParseSlurm(const YAML::Node& node, const std::string& file, AgentConfig& config) {
  if (!node.IsMap()) return Bad(file, "slurm", "expected a mapping {shared_dir, stage_roots}");
  for (const auto& field : node) {
    const std::string name = field.first.as<std::string>();
    const std::string key = absl::StrCat("slurm.", name);
    if (name == "shared_dir") {
      auto s = ScalarString(field.second, file, key);
      if (!s.ok()) return s.status();
      config.slurm_shared_dir = *s;
    } else if (name == "stage_roots") {
      if (!field.second.IsSequence()) return Bad(file, key, "expected a list of directories");
      for (const auto& item : field.second) {
        auto s = ScalarString(item, file, key + "[]");
        if (!s.ok()) return s.status();
        if (s->empty() || (*s)[0] != '/') return Bad(file, key, "expected absolute paths");
        config.slurm_stage_roots.push_back(*s);
      }
    } else {
      return Bad(file, key, "unknown key (expected shared_dir or stage_roots)");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<HostBindRoot> ParseBindRoot(const YAML::Node& node, const std::string& file,
                                           const std::string& key) {
  if (!node.IsMap()) return Bad(file, key, "expected a mapping {path, writable}");
  HostBindRoot root;
  for (const auto& field : node) {
    const std::string name = field.first.as<std::string>();
    const std::string fkey = absl::StrCat(key, ".", name);
    if (name == "path") {
      auto s = ScalarString(field.second, file, fkey);
      if (!s.ok()) return s.status();
      root.host_dir = *s;
    } else if (name == "writable") {
      auto b = Bool(field.second, file, fkey);
      if (!b.ok()) return b.status();
      root.writable = *b;
    } else {
      return Bad(file, fkey, "unknown key (expected path or writable)");
    }
  }
  if (root.host_dir.empty()) return Bad(file, absl::StrCat(key, ".path"), "missing");
  return root;
}

// A task uid: 1 .. 2^31-1 (0 is root; the top half is not a uid everywhere).
absl::StatusOr<uint32_t> TaskUid(const std::string& text, const std::string& file,
                                 const std::string& key) {
  uint32_t uid = 0;
  if (!absl::SimpleAtoi(text, &uid) || uid == 0 || uid > 0x7fffffffu) {
    return Bad(file, key, "expected a uid from 1 to 2147483647 (never 0: tasks never run as root)");
  }
  return uid;
}

absl::Status ParseTaskUsersPool(const YAML::Node& node, const std::string& file,
                                TaskUsersConfig& users) {
  const std::string key = "task_users.pool";
  auto text = ScalarString(node, file, key);
  if (!text.ok()) return text.status();
  const size_t dash = text->find('-');
  if (dash == std::string::npos) return Bad(file, key, "expected FIRST-LAST, e.g. 200000-200999");
  auto first = TaskUid(text->substr(0, dash), file, key);
  if (!first.ok()) return first.status();
  auto last = TaskUid(text->substr(dash + 1), file, key);
  if (!last.ok()) return last.status();
  if (*last < *first) return Bad(file, key, "LAST is below FIRST");
  users.pool_first = *first;
  users.pool_last = *last;
  return absl::OkStatus();
}

absl::Status ParseTaskOwners(const YAML::Node& node, const std::string& file,
                             TaskUsersConfig& users) {
  if (!node.IsSequence()) return Bad(file, "task_users.owners", "expected [cn-NAME, ...]");
  for (const auto& item : node) {
    auto identity = ScalarString(item, file, "task_users.owners");
    if (!identity.ok()) return identity.status();
    if (!absl::StartsWith(*identity, "cn-") || identity->size() < 4) {
      return Bad(file, "task_users.owners", "expected certificate identities cn-NAME");
    }
    users.owners.push_back(*identity);
  }
  return absl::OkStatus();
}

absl::Status ParseTaskUsers(const YAML::Node& node, const std::string& file,
                            TaskUsersConfig& users) {
  if (!node.IsMap()) return Bad(file, "task_users", "expected a mapping {map, pool}");
  for (const auto& entry : node) {
    const std::string name = entry.first.as<std::string>();
    if (name == "pool") {
      if (absl::Status s = ParseTaskUsersPool(entry.second, file, users); !s.ok()) return s;
      continue;
    }
    if (name == "owners") {
      if (absl::Status s = ParseTaskOwners(entry.second, file, users); !s.ok()) return s;
      continue;
    }
    if (name != "map") {
      return Bad(file, "task_users." + name, "unknown key (expected map, owners or pool)");
    }
    if (!entry.second.IsMap()) return Bad(file, "task_users.map", "expected {cn-NAME: UID, ...}");
    for (const auto& item : entry.second) {
      const std::string identity = item.first.as<std::string>();
      const std::string key = "task_users.map." + identity;
      if (!absl::StartsWith(identity, "cn-") || identity.size() < 4) {
        return Bad(file, key,
                   "expected a certificate identity cn-NAME (unix-socket and SSH callers run as "
                   "their own uid)");
      }
      auto text = ScalarString(item.second, file, key);
      if (!text.ok()) return text.status();
      auto uid = TaskUid(*text, file, key);
      if (!uid.ok()) return uid.status();
      users.map[identity] = *uid;
    }
  }
  return absl::OkStatus();
}

absl::Status ParseAllow(const YAML::Node& node, const std::string& file, HostAccessPolicy& allow) {
  if (!node.IsMap()) return Bad(file, "allow", "expected a mapping");
  for (const auto& field : node) {
    const std::string name = field.first.as<std::string>();
    const std::string key = absl::StrCat("allow.", name);
    bool* flag = name == "host_network"      ? &allow.allow_host_network
                 : name == "host_ipc"        ? &allow.allow_host_ipc
                 : name == "host_pid"        ? &allow.allow_host_pid
                 : name == "published_ports" ? &allow.allow_published_ports
                                             : nullptr;
    if (flag != nullptr) {
      auto b = Bool(field.second, file, key);
      if (!b.ok()) return b.status();
      *flag = *b;
    } else if (name == "bind_roots") {
      if (!field.second.IsSequence()) return Bad(file, key, "expected a list of {path, writable}");
      allow.bind_roots.clear();
      for (size_t i = 0; i < field.second.size(); ++i) {
        auto root = ParseBindRoot(field.second[i], file, absl::StrCat(key, "[", i, "]"));
        if (!root.ok()) return root.status();
        allow.bind_roots.push_back(*root);
      }
    } else {
      return Bad(file, key,
                 "unknown key (expected host_network, host_ipc, host_pid, published_ports or "
                 "bind_roots)");
    }
  }
  return absl::OkStatus();
}

absl::Status ParseGpus(const YAML::Node& node, const std::string& file, GpuConfig& gpus) {
  if (!node.IsMap()) {
    return Bad(file, "gpus", "expected a mapping {devices, nvidia_smi, sample_seconds}");
  }
  for (const auto& field : node) {
    const std::string name = field.first.as<std::string>();
    const std::string key = absl::StrCat("gpus.", name);
    if (name == "nvidia_smi") {
      auto s = ScalarString(field.second, file, key);
      if (!s.ok()) return s.status();
      gpus.nvidia_smi = *s;
    } else if (name == "devices") {
      if (!field.second.IsSequence()) return Bad(file, key, "expected a list of GPU indices");
      std::vector<int> devices;
      for (size_t i = 0; i < field.second.size(); ++i) {
        const std::string item = absl::StrCat(key, "[", i, "]");
        int index = -1;
        if (!field.second[i].IsScalar() || !absl::SimpleAtoi(field.second[i].Scalar(), &index) ||
            index < 0 || index > 1023) {
          return Bad(file, item, "expected a GPU index from 0 to 1023");
        }
        if (std::find(devices.begin(), devices.end(), index) != devices.end()) {
          return Bad(file, item, absl::StrCat("GPU ", index, " is listed twice"));
        }
        devices.push_back(index);
      }
      gpus.devices = std::move(devices);
    } else if (name == "sample_seconds") {
      auto n = PositiveInt(field.second, file, key);
      if (!n.ok()) return n.status();
      if (*n > 3600) return Bad(file, key, "at most 3600");
      gpus.sample_seconds = static_cast<int>(*n);
    } else {
      return Bad(file, key, "unknown key (expected devices, nvidia_smi or sample_seconds)");
    }
  }
  return absl::OkStatus();
}

absl::Status ParseMetrics(const YAML::Node& node, const std::string& file, MetricsConfig& metrics) {
  if (!node.IsMap()) return Bad(file, "metrics", "expected a mapping {listen, identity_labels}");
  for (const auto& entry : node) {
    const std::string key = entry.first.as<std::string>();
    if (key == "listen") {
      auto s = ScalarString(entry.second, file, "metrics.listen");
      if (!s.ok()) return s.status();
      metrics.listen = *s;
    } else if (key == "identity_labels") {
      auto b = Bool(entry.second, file, "metrics.identity_labels");
      if (!b.ok()) return b.status();
      metrics.identity_labels = *b;
    } else {
      return Bad(file, "metrics." + key, "unknown key (expected listen or identity_labels)");
    }
  }
  return absl::OkStatus();
}

absl::Status ParseInto(const YAML::Node& root, const std::string& file, AgentConfig& config) {
  if (root.IsNull()) return absl::OkStatus();
  if (!root.IsMap()) return Bad(file, "(top level)", "expected a mapping");
  for (const auto& entry : root) {
    const std::string key = entry.first.as<std::string>();
    const YAML::Node& value = entry.second;
    if (key == "listen") {
      config.listen.clear();
      if (value.IsScalar()) {
        config.listen.push_back(value.Scalar());
      } else if (value.IsSequence()) {
        for (const auto& item : value) {
          auto s = ScalarString(item, file, "listen[]");
          if (!s.ok()) return s.status();
          config.listen.push_back(*s);
        }
      } else {
        return Bad(file, key, "expected an address or a list of addresses");
      }
    } else if (key == "state_dir") {
      auto s = ScalarString(value, file, key);
      if (!s.ok()) return s.status();
      config.state_dir = *s;
    } else if (key == "image_dir") {
      auto s = ScalarString(value, file, key);
      if (!s.ok()) return s.status();
      config.image_dir = *s;
    } else if (key == "max_concurrent_jobs") {
      auto n = PositiveInt(value, file, key);
      if (!n.ok()) return n.status();
      if (*n > 1024) return Bad(file, key, "at most 1024");
      config.max_concurrent_jobs = static_cast<int>(*n);
    } else if (key == "log_format") {
      auto s = ScalarString(value, file, key);
      if (!s.ok()) return s.status();
      if (*s != "auto" && !ParseLogFormat(*s).ok()) {
        return Bad(file, key, "expected auto, text, json or journal");
      }
      config.log_format = *s;
    } else if (key == "log_max_bytes") {  // the older spelling of limits.job_log_bytes
      auto n = JobLogBytes(value, file, key);
      if (!n.ok()) return n.status();
      config.limits.job_log_bytes = *n;
    } else if (key == "runtimes") {
      absl::Status s = ParseRuntimes(value, file, config);
      if (!s.ok()) return s;
    } else if (key == "unix_socket") {
      absl::Status s = ParseUnixSocket(value, file, config);
      if (!s.ok()) return s;
    } else if (key == "tls") {
      absl::Status s = ParseTls(value, file, config.tls);
      if (!s.ok()) return s;
    } else if (key == "limits") {
      absl::Status s = ParseLimits(value, file, config.limits);
      if (!s.ok()) return s;
    } else if (key == "allow") {
      absl::Status s = ParseAllow(value, file, config.allow);
      if (!s.ok()) return s;
    } else if (key == "task_users") {
      absl::Status s = ParseTaskUsers(value, file, config.task_users);
      if (!s.ok()) return s;
    } else if (key == "slurm") {
      absl::Status s = ParseSlurm(value, file, config);
      if (!s.ok()) return s;
    } else if (key == "gpus") {
      absl::Status s = ParseGpus(value, file, config.gpus);
      if (!s.ok()) return s;
    } else if (key == "metrics") {
      absl::Status s = ParseMetrics(value, file, config.metrics);
      if (!s.ok()) return s;
    } else {
      return Bad(file, key,
                 "unknown key (expected listen, state_dir, image_dir, max_concurrent_jobs, "
                 "log_format, log_max_bytes, runtimes, unix_socket, tls, limits, allow, "
                 "task_users, slurm, "
                 "gpus or metrics)");
    }
  }
  return absl::OkStatus();
}

// A bind root must be a plain absolute directory name that exposes none of
// the agent's own files: not "/", not the state or image dir nor a parent
// of them (every owner's workspaces, the TLS key's neighbours).
absl::Status ValidateBindRoots(const AgentConfig& config) {
  const std::vector<HostBindRoot>& roots = config.allow.bind_roots;
  for (size_t i = 0; i < roots.size(); ++i) {
    const std::string key = absl::StrCat("allow.bind_roots[", i, "].path");
    const std::string& dir = roots[i].host_dir;
    if (dir.empty() || dir[0] != '/' || NormalizePath(dir) != dir ||
        dir.find_first_of(":,") != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          key, ": '", PrintableExcerpt(dir),
          "': expected an absolute path without '.', '..', '//', a trailing '/', ':' or ','"));
    }
    if (dir == "/") {
      return absl::InvalidArgumentError(
          absl::StrCat(key, ": '/' would let cubes bind every file on the host"));
    }
    for (const std::string& own : {config.state_dir, config.EffectiveImageDir()}) {
      if (IsWithin(NormalizePath(own), dir) || IsWithin(dir, NormalizePath(own))) {
        return absl::InvalidArgumentError(
            absl::StrCat(key, ": '", dir, "' overlaps the agent's own directory ", own,
                         " (every identity's workspaces and images)"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckSlurmSharedDir(const AgentConfig& config, std::string* note) {
  const std::string& dir = config.slurm_shared_dir;
  // Workspaces, job directories and SIF images must all be where the
  // compute nodes see them; Slurm reads '%' in output paths as a pattern.
  for (const auto& [name, path] :
       {std::pair<const char*, std::string>{"state_dir", config.state_dir},
        {"image_dir", config.EffectiveImageDir()}}) {
    if (!IsWithin(NormalizePath(path), NormalizePath(dir))) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": '", path, "' is outside slurm.shared_dir '", dir,
                       "' (compute nodes must see it: put it under the shared directory)"));
    }
    if (path.find('%') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": '", path, "': '%' is not allowed with Slurm"));
    }
  }
  struct statfs fs {};
  if (statfs(dir.c_str(), &fs) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("slurm.shared_dir: cannot inspect '", dir, "': ", strerror(errno)));
  }
  const auto type = static_cast<unsigned long>(fs.f_type);
  if (type == TMPFS_MAGIC || type == RAMFS_MAGIC) {
    return absl::FailedPreconditionError(
        absl::StrCat("slurm.shared_dir: '", dir,
                     "' is in memory on this node (tmpfs); set it to a shared "
                     "filesystem the compute nodes mount, e.g. $SCRATCH/mlcube"));
  }
  constexpr unsigned long kNetworkTypes[] = {NFS_SUPER_MAGIC,         0x0BD00BD0 /* Lustre */,
                                             0x47504653 /* GPFS */,   0x19830326 /* BeeGFS */,
                                             0x00C36400 /* CephFS */, 0xFF534D42 /* CIFS */,
                                             0xFE534D42 /* SMB2 */,   0x65735546 /* FUSE */,
                                             0xAAD7AAEA /* PanFS */,  0x6B414653 /* AFS */};
  for (unsigned long network : kNetworkTypes) {
    if (type == network) return absl::OkStatus();
  }
  if (note != nullptr) {
    *note = absl::StrCat("slurm.shared_dir '", dir,
                         "' is on a local filesystem: Slurm jobs on other nodes will not find "
                         "their workspaces (fine on a one-node cluster)");
  }
  return absl::OkStatus();
}

std::string AgentConfig::EffectiveImageDir() const {
  if (!image_dir.empty()) return image_dir;
  return absl::StrCat(state_dir, "/images");
}

absl::StatusOr<AgentConfig> ParseAgentConfig(const std::string& yaml_text,
                                             const std::string& file_name) {
  AgentConfig config;
  absl::StatusOr<YAML::Node> root = ParseYaml(yaml_text, file_name);
  if (!root.ok()) return root.status();
  try {
    absl::Status s = ParseInto(*root, file_name, config);
    if (!s.ok()) return s;
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(file_name, ": ", e.what()));
  }
  absl::Status valid = ValidateAgentConfig(config);
  if (!valid.ok())
    return absl::InvalidArgumentError(absl::StrCat(file_name, ": ", valid.message()));
  return config;
}

absl::StatusOr<AgentConfig> LoadAgentConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read the config file"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return ParseAgentConfig(buffer.str(), path);
}

absl::Status ValidateAgentConfig(const AgentConfig& config) {
  if (config.listen.empty()) return absl::InvalidArgumentError("listen: no address given");
  std::set<std::string> seen;
  for (const std::string& address : config.listen) {
    if (absl::StartsWith(address, "unix://")) {
      if (address.size() <= 8 || address[7] != '/') {
        return absl::InvalidArgumentError(
            absl::StrCat("listen: '", address, "': expected unix:///absolute/path"));
      }
    } else {
      const size_t colon = address.rfind(':');
      int port = 0;
      if (colon == std::string::npos || colon == 0 ||
          !absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 || port > 65535) {
        return absl::InvalidArgumentError(
            absl::StrCat("listen: '", address, "': expected unix:///path or HOST:PORT"));
      }
    }
    if (!seen.insert(address).second) {
      return absl::InvalidArgumentError(absl::StrCat("listen: '", address, "' given twice"));
    }
  }
  if (config.state_dir.empty() || config.state_dir[0] != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("state_dir: '", config.state_dir, "': expected an absolute path"));
  }
  if (!config.image_dir.empty() && config.image_dir[0] != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("image_dir: '", config.image_dir, "': expected an absolute path"));
  }
  if (!config.slurm_shared_dir.empty()) {
    if (config.slurm_shared_dir[0] != '/') {
      return absl::InvalidArgumentError(absl::StrCat("slurm.shared_dir: '", config.slurm_shared_dir,
                                                     "': expected an absolute path"));
    }
  }
  for (const auto& [name, value] :
       {std::pair<const char*, const std::string*>{"ca", &config.tls.ca},
        {"cert", &config.tls.cert},
        {"key", &config.tls.key}}) {
    if (!value->empty() && (*value)[0] != '/') {
      return absl::InvalidArgumentError(
          absl::StrCat("tls.", name, ": '", *value, "': expected an absolute path"));
    }
  }
  return ValidateBindRoots(config);
}

}  // namespace mlcube
