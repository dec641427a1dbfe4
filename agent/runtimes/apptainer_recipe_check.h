#ifndef MLCUBE_REMOTE_AGENT_RUNTIMES_APPTAINER_RECIPE_CHECK_H_
#define MLCUBE_REMOTE_AGENT_RUNTIMES_APPTAINER_RECIPE_CHECK_H_

// Reads an Apptainer/Singularity definition file the way `apptainer build`
// splits it (stages start at a line "Bootstrap:", a section at a line whose
// first word starts with '%') and refuses what would let a build reach the
// agent's host outside the cube's build context:
//   - %setup (and the historic %pre) run as the agent's user on the host;
//   - %files / %appfiles sources are expanded by /bin/sh on the host and
//     copied with `cp -fLr`: a source must be a plain relative path (or glob)
//     beneath the build context, with no shell syntax, and nothing it copies
//     may be a symlink that leads out (BuildContext::CheckCopySource);
//   - a localimage, docker-archive or oci-archive From: is a host path and
//     must name a file beneath the build context;
//   - bootstrap agents that install from the host (debootstrap, yum, ...)
//     need root and are refused.
// `%files from STAGE` copies from an earlier stage's image, not the host:
// only its shell syntax is checked.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "agent/runtimes/build_context.h"

namespace mlcube {

class ApptainerRecipeCheck {
 public:
  struct Stage {
    int line = 0;
    std::string bootstrap;  // lower case
    std::string from;
  };
  struct CopySource {
    int line = 0;
    std::string section;  // "files" or "appfiles"
    std::string source;
    bool from_stage = false;
  };

  // `recipe` is the definition file's text; `name` names it in messages
  // ("singularity.build_file: Singularity.recipe line 12: ...").
  ApptainerRecipeCheck(absl::string_view recipe, std::string name);

  // OK when building the recipe with the build context as working
  // directory reads nothing outside it and runs nothing on the host.
  // INVALID_ARGUMENT, one line naming the recipe and the line, otherwise.
  absl::Status Check(const BuildContext& context) const;

  const std::vector<Stage>& stages() const { return stages_; }
  const std::vector<CopySource>& copy_sources() const { return copy_sources_; }

 private:
  void Parse(absl::string_view recipe);
  void ParseHeaderLine(absl::string_view line, int number);
  absl::Status Refused(int line, absl::string_view why) const;
  absl::Status CheckStage(const Stage& stage, const BuildContext& context) const;
  absl::Status CheckCopySource(const CopySource& copy, const BuildContext& context) const;

  std::string name_;
  std::vector<Stage> stages_;
  std::vector<CopySource> copy_sources_;
  // Sections that run on the host, with their line numbers.
  std::vector<std::pair<int, std::string>> host_sections_;
  int header_continuation_line_ = 0;  // a From:/Bootstrap: value continued with '\'
  int template_line_ = 0;             // the first line with "{{"
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_RUNTIMES_APPTAINER_RECIPE_CHECK_H_
