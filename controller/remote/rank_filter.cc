#include "controller/remote/rank_filter.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace mlcube {
namespace {

constexpr int kMaxRank = 1000000;
constexpr char kPrefix[] = "[rank ";

bool ParseRank(const std::string& text, int* rank) {
  return !text.empty() && text.find_first_not_of("0123456789") == std::string::npos &&
         absl::SimpleAtoi(text, rank) && *rank <= kMaxRank;
}

}  // namespace

absl::StatusOr<std::set<int>> ParseRankList(const std::string& value, const std::string& flag) {
  auto bad = [&](const std::string& item) {
    return absl::InvalidArgumentError(absl::StrCat(flag, "=", value, ": bad rank '", item,
                                                   "' (expected ranks and ranges: 0 or 0,2 or "
                                                   "0-3)"));
  };
  std::set<int> ranks;
  for (const std::string& item : std::vector<std::string>(absl::StrSplit(value, ','))) {
    std::vector<std::string> ends = absl::StrSplit(item, absl::MaxSplits('-', 1));
    int first = 0;
    int last = 0;
    if (!ParseRank(ends[0], &first)) return bad(item);
    last = first;
    if (ends.size() == 2 && (!ParseRank(ends[1], &last) || last < first)) return bad(item);
    if (last - first > 100000) return bad(item);
    for (int rank = first; rank <= last; ++rank) ranks.insert(rank);
  }
  return ranks;
}

bool RankFilter::Passes(const std::string& line) const {
  if (ranks_.empty()) return true;
  if (line.compare(0, sizeof(kPrefix) - 1, kPrefix) != 0) return true;
  const size_t close = line.find("] ", sizeof(kPrefix) - 1);
  int rank = 0;
  if (close == std::string::npos ||
      !ParseRank(line.substr(sizeof(kPrefix) - 1, close - (sizeof(kPrefix) - 1)), &rank)) {
    return true;
  }
  return ranks_.count(rank) > 0;
}

std::string RankFilter::Filter(int stream, const std::string& data) {
  if (PassesAll()) return data;
  std::string& held = held_[stream];
  held += data;
  std::string passed;
  size_t start = 0;
  for (size_t end = held.find('\n'); end != std::string::npos; end = held.find('\n', start)) {
    const std::string line = prefix_ + held.substr(start, end + 1 - start);
    if (Passes(line)) passed += line;
    start = end + 1;
  }
  held.erase(0, start);
  return passed;
}

std::string RankFilter::Flush(int stream) {
  auto it = held_.find(stream);
  if (it == held_.end()) return "";
  std::string rest = std::move(it->second);
  held_.erase(it);
  if (rest.empty()) return "";
  rest = prefix_ + rest;
  return Passes(rest) ? rest : "";
}

}  // namespace mlcube
