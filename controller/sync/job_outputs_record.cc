#include "controller/sync/job_outputs_record.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/digest.h"
#include "common/file_util.h"
#include "common/safe_path.h"
#include "controller/sync/scan_cache.h"

namespace mlcube {

std::string JobOutputsRecord::DefaultDir() { return ControllerCacheDir() + "/jobs"; }

std::string JobOutputsRecord::FileFor(const std::string& cube_id, const std::string& job_id) const {
  const std::string key = absl::StrCat(cube_id.size(), ":", cube_id, job_id);
  return absl::StrCat(dir_, "/", DigestOf(key).hash().substr(0, 32), ".outputs");
}

absl::Status JobOutputsRecord::Save(const std::string& cube_id, const std::string& job_id,
                                    const std::vector<std::string>& outputs) const {
  if (absl::Status made = MakeDirs(dir_, 0700); !made.ok()) return made;
  std::string text;
  for (const std::string& output : outputs) absl::StrAppend(&text, output, "\n");
  return WriteFileAtomically(FileFor(cube_id, job_id), text, 0600);
}

absl::StatusOr<std::vector<std::string>> JobOutputsRecord::Load(const std::string& cube_id,
                                                                const std::string& job_id) const {
  absl::StatusOr<std::string> text = ReadSmallFile(FileFor(cube_id, job_id));
  if (!text.ok()) return text.status();
  std::vector<std::string> outputs;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    if (ValidateRelativePath(line).ok()) outputs.emplace_back(line);
  }
  return outputs;
}

}  // namespace mlcube
