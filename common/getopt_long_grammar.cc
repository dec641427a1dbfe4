#include "common/getopt_long_grammar.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/safe_path.h"

namespace mlcube {
namespace {

absl::Status Bad(const std::string& arg, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat("'", PrintableExcerpt(arg, 64), "' ", why));
}

}  // namespace

absl::StatusOr<const GetoptOption*> GetoptLongGrammar::FindLong(const std::string& name) const {
  std::vector<const GetoptOption*> prefixed;
  for (const GetoptOption& option : *options_) {
    if (name == option.long_name) return &option;
    if (absl::StartsWith(option.long_name, name)) prefixed.push_back(&option);
  }
  if (prefixed.size() == 1) return prefixed.front();
  if (prefixed.empty()) return Bad("--" + name, "is an unknown option");
  std::vector<std::string> names;
  for (const GetoptOption* option : prefixed)
    names.push_back(absl::StrCat("--", option->long_name));
  return Bad("--" + name, absl::StrCat("is ambiguous (", absl::StrJoin(names, ", "), ")"));
}

absl::StatusOr<std::vector<GetoptOccurrence>> GetoptLongGrammar::Parse(
    const std::vector<std::string>& args) const {
  std::vector<GetoptOccurrence> out;
  size_t i = 0;
  while (i < args.size()) {
    const std::string& arg = args[i];
    if (arg == "--") return Bad(arg, "ends the options: what follows would replace the script");
    if (arg.size() < 2 || arg[0] != '-') {
      return Bad(arg, "is not an option: it would be taken as the script");
    }
    absl::Status parsed = arg[1] == '-' ? ParseLong(args, &i, &out) : ParseShorts(args, &i, &out);
    if (!parsed.ok()) return parsed;
  }
  return out;
}

absl::Status GetoptLongGrammar::ParseLong(const std::vector<std::string>& args, size_t* i,
                                          std::vector<GetoptOccurrence>* out) const {
  const std::string& arg = args[*i];
  const size_t eq = arg.find('=');
  const std::string name = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
  auto option = FindLong(name);
  if (!option.ok()) return option.status();
  GetoptOccurrence occurrence;
  occurrence.option = *option;
  occurrence.spelling = arg;
  ++*i;
  if (eq != std::string::npos) {
    if ((*option)->argument == GetoptArgument::kNone) {
      return Bad(arg, absl::StrCat("gives --", (*option)->long_name, " a value it does not take"));
    }
    occurrence.has_value = true;
    occurrence.value = arg.substr(eq + 1);
  } else if ((*option)->argument == GetoptArgument::kRequired) {
    if (*i == args.size()) return Bad(arg, "needs a value");
    occurrence.has_value = true;
    occurrence.value = args[*i];
    absl::StrAppend(&occurrence.spelling, " ", args[*i]);
    ++*i;
  }
  out->push_back(std::move(occurrence));
  return absl::OkStatus();
}

absl::Status GetoptLongGrammar::ParseShorts(const std::vector<std::string>& args, size_t* i,
                                            std::vector<GetoptOccurrence>* out) const {
  const std::string& arg = args[*i];
  ++*i;
  for (size_t at = 1; at < arg.size(); ++at) {
    const GetoptOption* option = nullptr;
    for (const GetoptOption& candidate : *options_) {
      if (candidate.short_name != 0 && candidate.short_name == arg[at]) option = &candidate;
    }
    if (option == nullptr) {
      return Bad(arg, absl::StrCat("has an unknown option -", PrintableExcerpt(arg.substr(at, 1))));
    }
    GetoptOccurrence occurrence;
    occurrence.option = option;
    occurrence.spelling = arg;
    const bool rest = at + 1 < arg.size();
    if (option->argument != GetoptArgument::kNone && rest) {
      occurrence.has_value = true;
      occurrence.value = arg.substr(at + 1);
      at = arg.size();
    } else if (option->argument == GetoptArgument::kRequired) {
      if (*i == args.size()) {
        return Bad(arg, absl::StrCat("needs a value for -", std::string(1, option->short_name)));
      }
      occurrence.has_value = true;
      occurrence.value = args[*i];
      absl::StrAppend(&occurrence.spelling, " ", args[*i]);
      ++*i;
    }
    out->push_back(std::move(occurrence));
  }
  return absl::OkStatus();
}

}  // namespace mlcube
