#include "common/yaml_limits.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <sstream>
#include <unordered_map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/safe_path.h"

namespace mlcube {
namespace {

// What a node expands to when walked with its aliases followed.
struct Subtree {
  size_t nodes = 0;
  size_t bytes = 0;  // of its scalars
  int height = 0;    // collection levels; 0 for a scalar
};

// Thrown by the handler to stop the parser; caught in CheckYamlLimits.
struct LimitExceeded {
  absl::Status status;
};

// Messages stay one line whatever the file name or the text holds.
std::string Where(absl::string_view file_name, const YAML::Mark& mark) {
  const std::string file = PrintableExcerpt(file_name, 4096);
  if (mark.line < 0) return file;
  return absl::StrCat(file, ":", mark.line + 1, ":", mark.column + 1);
}

// Counts the document as the parser reports it, refusing (by throwing
// LimitExceeded) at the first event past a limit.
class BudgetHandler : public YAML::EventHandler {
 public:
  BudgetHandler(absl::string_view file_name, const YamlLimits& limits)
      : file_name_(file_name), limits_(limits) {}

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override { Leaf(mark, anchor, 0); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                const std::string& value) override {
    Leaf(mark, anchor, value.size());
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override;
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    Open(mark, anchor);
  }
  void OnSequenceEnd() override { Close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    Open(mark, anchor);
  }
  void OnMapEnd() override { Close(); }

 private:
  struct OpenCollection {
    YAML::anchor_t anchor;
    size_t nodes_before;  // expanded_ counters when it started
    size_t bytes_before;
    int height;
  };

  [[noreturn]] void Fail(const YAML::Mark& mark, absl::string_view what) const {
    throw LimitExceeded{
        absl::InvalidArgumentError(absl::StrCat(Where(file_name_, mark), ": ", what))};
  }
  void CountWritten(const YAML::Mark& mark) {
    if (++written_nodes_ > limits_.max_nodes) {
      Fail(mark, absl::StrCat("YAML has more than ", limits_.max_nodes, " nodes (limit)"));
    }
  }
  // A node of `height` placed in the innermost open collection.
  void Place(const YAML::Mark& mark, int height) {
    if (static_cast<int64_t>(open_.size()) + height > limits_.max_depth) {
      Fail(mark, absl::StrCat("YAML nested deeper than ", limits_.max_depth, " levels (limit)"));
    }
    if (!open_.empty()) open_.back().height = std::max(open_.back().height, height + 1);
  }
  void Leaf(const YAML::Mark& mark, YAML::anchor_t anchor, size_t bytes) {
    CountWritten(mark);
    Place(mark, 0);
    expanded_nodes_ += 1;
    expanded_bytes_ += bytes;
    if (anchor != YAML::NullAnchor) anchors_[anchor] = Subtree{1, bytes, 0};
  }
  void Open(const YAML::Mark& mark, YAML::anchor_t anchor) {
    CountWritten(mark);
    Place(mark, 1);
    open_.push_back({anchor, expanded_nodes_, expanded_bytes_, 1});
    expanded_nodes_ += 1;
    // Known but not complete: an alias to it now would make a cycle.
    if (anchor != YAML::NullAnchor) anchors_[anchor] = std::nullopt;
  }
  void Close();

  const std::string file_name_;
  const YamlLimits limits_;
  std::vector<OpenCollection> open_;
  // nullopt while the anchored collection is still open.
  std::unordered_map<YAML::anchor_t, std::optional<Subtree>> anchors_;
  size_t written_nodes_ = 0;
  size_t expanded_nodes_ = 0;
  size_t expanded_bytes_ = 0;
  size_t alias_nodes_ = 0;
  size_t alias_bytes_ = 0;
};

void BudgetHandler::OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) {
  CountWritten(mark);
  auto it = anchors_.find(anchor);
  if (it == anchors_.end() || !it->second.has_value()) {
    Fail(mark, "YAML alias inside the node it refers to (a cycle)");
  }
  const Subtree& target = *it->second;
  alias_nodes_ += target.nodes;
  alias_bytes_ += target.bytes;
  if (alias_nodes_ > limits_.max_alias_nodes) {
    Fail(mark, absl::StrCat("YAML aliases expand to more than ", limits_.max_alias_nodes,
                            " nodes (limit)"));
  }
  if (alias_bytes_ > limits_.max_alias_bytes) {
    Fail(mark, absl::StrCat("YAML aliases expand to more than ", limits_.max_alias_bytes,
                            " bytes (limit)"));
  }
  Place(mark, target.height);
  expanded_nodes_ += target.nodes;
  expanded_bytes_ += target.bytes;
}

void BudgetHandler::Close() {
  if (open_.empty()) return;  // not produced by yaml-cpp; nothing to count
  const OpenCollection done = open_.back();
  open_.pop_back();
  if (!open_.empty()) open_.back().height = std::max(open_.back().height, done.height + 1);
  if (done.anchor != YAML::NullAnchor) {
    anchors_[done.anchor] = Subtree{expanded_nodes_ - done.nodes_before,
                                    expanded_bytes_ - done.bytes_before, done.height};
  }
}

}  // namespace

absl::Status CheckYamlLimits(const std::string& text, absl::string_view file_name,
                             const YamlLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(PrintableExcerpt(file_name, 4096), ": YAML text of ", text.size(),
                     " bytes is over the limit of ", limits.max_bytes, " bytes"));
  }
  try {
    std::istringstream in(text);
    YAML::Parser parser(in);
    BudgetHandler handler(file_name, limits);
    parser.HandleNextDocument(handler);
  } catch (const LimitExceeded& e) {
    return e.status;
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(Where(file_name, e.mark), ": invalid YAML: ", PrintableExcerpt(e.msg)));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(PrintableExcerpt(file_name, 4096),
                                                   ": invalid YAML: ", PrintableExcerpt(e.what())));
  }
  return absl::OkStatus();
}

}  // namespace mlcube
