#ifndef MLCUBE_REMOTE_CONTROLLER_REMOTE_RANK_FILTER_H_
#define MLCUBE_REMOTE_CONTROLLER_REMOTE_RANK_FILTER_H_

// `run --ranks=LIST` and `logs --ranks=LIST`: of a job of several ranks,
// only the lines of the ranks asked for. Each rank's line reaches the log
// as "[rank N] text" (the agent's Slurm steps prefix them); a line without
// that prefix (the agent's own notes, a one-rank job) always passes.
//
// A job that is one rank of a job across hosts (controller/gang) has its
// lines prefixed here, before the filter, with "[rank N] ".
//
// Output arrives in chunks that may end mid-line: a partial line is held,
// per stream, until its end arrives (or Flush at the end of the watch), so
// the offsets a watch resumes from stay those of the whole log.

#include <map>
#include <set>
#include <string>

#include "absl/status/statusor.h"

namespace mlcube {

// "0", "0,2", "0-3,8": a set of ranks. INVALID_ARGUMENT naming `flag` for
// anything else (empty items, negatives, reversed ranges, over 1,000,000).
absl::StatusOr<std::set<int>> ParseRankList(const std::string& value,
                                            const std::string& flag = "--ranks");

class RankFilter {
 public:
  // An empty set passes everything; `prefix` goes in front of every line.
  explicit RankFilter(std::set<int> ranks, std::string prefix = "")
      : ranks_(std::move(ranks)), prefix_(std::move(prefix)) {}

  // True when bytes pass as they come (no filter, no prefix).
  bool PassesAll() const { return ranks_.empty() && prefix_.empty(); }

  // The complete lines of `data` (stream `stream`, any int the caller uses
  // to tell streams apart) that pass, with the held part of an earlier
  // chunk in front.
  std::string Filter(int stream, const std::string& data);

  // What `stream` still holds (a last line without its newline), if it
  // passes.
  std::string Flush(int stream);

 private:
  bool Passes(const std::string& line) const;

  std::set<int> ranks_;
  std::string prefix_;
  std::map<int, std::string> held_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_REMOTE_RANK_FILTER_H_
