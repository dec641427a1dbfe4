#include "common/singularity_source.h"

#include <sys/stat.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace mlcube {
namespace {

// The scalar at `key` of `node`, or "" when there is none.
std::string ScalarAt(const YAML::Node& node, const char* key) {
  if (!node.IsDefined() || !node.IsMap()) return "";
  const YAML::Node value = node[key];
  return value.IsDefined() && value.IsScalar() ? value.Scalar() : "";
}

// As Python's Path.is_file(): a regular file, through links.
bool IsRegularFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool Has(const YAML::Node& node, const char* key) {
  return node.IsDefined() && node.IsMap() && node[key].IsDefined() && !node[key].IsNull();
}

}  // namespace

std::string SifNameFrom(const std::string& source) {
  std::string name;
  for (char c : source) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c))) name.push_back(c);
  }
  return name + ".sif";
}

SingularityChoice ChooseSingularitySource(const YAML::Node& written, const YAML::Node& effective,
                                          const std::string& root) {
  const YAML::Node section = effective["singularity"];
  SingularityChoice choice;
  choice.image = ScalarAt(section, "image");
  choice.build_file = ScalarAt(section, "build_file");
  const std::string recipe =
      Has(written, "build_file") ? choice.build_file : std::string("Singularity.recipe");
  // `docker-daemon:` (a local Docker image) is ours; MLCube knows the other two.
  const bool from_image = absl::StartsWith(recipe, "docker://") ||
                          absl::StartsWith(recipe, "docker-archive:") ||
                          absl::StartsWith(recipe, "docker-daemon:");
  // MLCube reads the recipe beneath the cube's root; a cube that names a
  // singularity.build_context (ours: MLCube's runner has none) means there.
  std::string base = root;
  if (Has(written, "build_context")) {
    const std::string context = ScalarAt(section, "build_context");
    base = absl::StartsWith(context, "/") ? context : absl::StrCat(root, "/", context);
  }
  const std::string recipe_path = absl::StartsWith(recipe, "/") ? recipe : base + "/" + recipe;
  if (!recipe.empty() && (from_image || IsRegularFile(recipe_path))) {
    choice.source = SingularitySource::kRecipe;
    choice.build_file = recipe;
    if (!Has(written, "image")) choice.image = SifNameFrom(recipe);
    return choice;
  }
  const YAML::Node docker = effective["docker"];
  const std::string image = ScalarAt(docker, "image");
  if (image.empty()) return choice;
  choice.source = SingularitySource::kDockerImage;
  choice.image = SifNameFrom(image);
  const std::string tar_file = ScalarAt(docker, "tar_file");
  choice.build_file = tar_file.empty() ? absl::StrCat("docker://", image)
                                       : absl::StrCat("docker-archive:", tar_file);
  return choice;
}

}  // namespace mlcube
