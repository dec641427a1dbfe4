#include "controller/gang/gang_record.h"

#include <yaml-cpp/yaml.h>

#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/file_util.h"
#include "controller/sync/scan_cache.h"

namespace mlcube {
namespace {

constexpr char kPrefix[] = "gang-";

std::string PathOf(const std::string& dir, const std::string& id) {
  return absl::StrCat(dir, "/", id, ".yaml");
}

}  // namespace

std::string GangRecord::NewId() {
  std::random_device random;
  return absl::StrFormat("%s%08x", kPrefix, random());
}

bool GangRecord::IsId(const std::string& text) {
  const size_t prefix = sizeof(kPrefix) - 1;
  return text.size() == prefix + 8 && text.compare(0, prefix, kPrefix) == 0 &&
         text.find_first_not_of("0123456789abcdef", prefix) == std::string::npos;
}

std::string GangRecord::DefaultDir() { return ControllerCacheDir() + "/gangs"; }

absl::Status GangRecord::Save(const std::string& dir) const {
  YAML::Emitter out;
  out << YAML::BeginMap << YAML::Key << "id" << YAML::Value << id << YAML::Key << "task"
      << YAML::Value << task << YAML::Key << "master_addr" << YAML::Value << master_addr
      << YAML::Key << "master_port" << YAML::Value << master_port << YAML::Key << "ranks"
      << YAML::Value << YAML::BeginSeq;
  for (const GangRank& rank : ranks) {
    out << YAML::Flow << YAML::BeginMap << YAML::Key << "host" << YAML::Value << rank.host
        << YAML::Key << "job" << YAML::Value << rank.job_id << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::EndMap;
  if (absl::Status made = MakeDirs(dir, 0700); !made.ok()) return made;
  return WriteFileAtomically(PathOf(dir, id), absl::StrCat(out.c_str(), "\n"), 0600);
}

absl::StatusOr<GangRecord> GangRecord::Load(const std::string& dir, const std::string& id) {
  const std::string path = PathOf(dir, id);
  absl::StatusOr<std::string> text = ReadSmallFile(path);
  if (!text.ok()) {
    return absl::NotFoundError(absl::StrCat("no job ", id, " started from here (no ", path, ")"));
  }
  GangRecord record;
  try {
    const YAML::Node root = YAML::Load(*text);
    record.id = root["id"].as<std::string>();
    record.task = root["task"].as<std::string>();
    record.master_addr = root["master_addr"].as<std::string>();
    record.master_port = root["master_port"].as<int>();
    for (const YAML::Node& rank : root["ranks"]) {
      record.ranks.push_back({rank["host"].as<std::string>(), rank["job"].as<std::string>()});
    }
  } catch (const YAML::Exception& e) {
    return absl::DataLossError(absl::StrCat(path, ": ", e.what()));
  }
  if (record.id != id || record.ranks.empty()) {
    return absl::DataLossError(absl::StrCat(path, ": not the record of ", id));
  }
  return record;
}

}  // namespace mlcube
