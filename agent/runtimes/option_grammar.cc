#include "agent/runtimes/option_grammar.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace mlcube {

std::string QuoteArgument(const std::string& arg) {
  constexpr size_t kShown = 48;
  if (arg.size() <= kShown) return absl::StrCat("\"", absl::CHexEscape(arg), "\"");
  return absl::StrCat("\"", absl::CHexEscape(arg.substr(0, kShown)), "...\"");
}

bool IsBoolLiteral(const std::string& text) {
  for (const char* literal :
       {"1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"}) {
    if (text == literal) return true;
  }
  return false;
}

const OptionSpec* OptionGrammar::FindLong(const std::string& name) const {
  for (const OptionSpec& spec : *options_) {
    if (name == spec.long_name) return &spec;
  }
  return nullptr;
}

const OptionSpec* OptionGrammar::FindShort(char name) const {
  if (name == 0) return nullptr;
  for (const OptionSpec& spec : *options_) {
    if (spec.short_name == name) return &spec;
  }
  return nullptr;
}

absl::StatusOr<std::vector<ParsedOption>> OptionGrammar::Parse(
    const std::vector<std::string>& args) const {
  std::vector<ParsedOption> out;
  size_t i = 0;
  while (i < args.size()) {
    const std::string& arg = args[i];
    if (arg == "--") {
      for (; i < args.size(); ++i) out.push_back(ParsedOption{nullptr, args[i], args[i], i});
      break;
    }
    absl::Status parsed;
    if (arg.size() > 2 && arg[0] == '-' && arg[1] == '-') {
      parsed = ParseLong(args, &i, &out);
    } else if (arg.size() > 1 && arg[0] == '-') {
      parsed = ParseShorts(args, &i, &out);
    } else {
      out.push_back(ParsedOption{nullptr, arg, arg, i});
      ++i;
    }
    if (!parsed.ok()) return parsed;
  }
  return out;
}

absl::Status OptionGrammar::ParseLong(const std::vector<std::string>& args, size_t* i,
                                      std::vector<ParsedOption>* out) const {
  const size_t index = *i;
  const std::string& arg = args[index];
  const size_t eq = arg.find('=');
  const std::string name = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
  if (name.empty() || name[0] == '-' || name[0] == '=') {
    return absl::InvalidArgumentError(absl::StrCat(QuoteArgument(arg), " is not an option"));
  }
  const OptionSpec* spec = FindLong(name);
  if (spec == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(QuoteArgument(arg), " is an unknown option"));
  }
  ParsedOption option{spec, arg, "true", index};
  ++*i;
  if (eq != std::string::npos) {
    option.value = arg.substr(eq + 1);
  } else if (spec->takes_value) {
    if (*i == args.size()) {
      return absl::InvalidArgumentError(absl::StrCat(QuoteArgument(arg), " needs a value"));
    }
    option.value = args[*i];
    absl::StrAppend(&option.spelling, " ", args[*i]);
    ++*i;
  }
  if (!spec->takes_value && !IsBoolLiteral(option.value)) {
    return absl::InvalidArgumentError(
        absl::StrCat(QuoteArgument(arg), " gives a switch a value that is not true or false"));
  }
  out->push_back(std::move(option));
  return absl::OkStatus();
}

absl::Status OptionGrammar::ParseShorts(const std::vector<std::string>& args, size_t* i,
                                        std::vector<ParsedOption>* out) const {
  const size_t index = *i;
  const std::string& arg = args[index];
  ++*i;
  std::string rest = arg.substr(1);
  while (!rest.empty()) {
    const OptionSpec* spec = FindShort(rest[0]);
    if (spec == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(QuoteArgument(arg), " has an unknown option -",
                                                     absl::CHexEscape(rest.substr(0, 1))));
    }
    ParsedOption option{spec, arg, "true", index};
    if (rest.size() > 1 && rest[1] == '=') {
      option.value = rest.substr(2);
      rest.clear();
    } else if (!spec->takes_value) {
      rest = rest.substr(1);
    } else if (rest.size() > 1) {
      option.value = rest.substr(1);
      rest.clear();
    } else if (*i < args.size()) {
      option.value = args[*i];
      absl::StrAppend(&option.spelling, " ", args[*i]);
      ++*i;
      rest.clear();
    } else {
      return absl::InvalidArgumentError(absl::StrCat(QuoteArgument(arg), " needs a value"));
    }
    if (!spec->takes_value && !IsBoolLiteral(option.value)) {
      return absl::InvalidArgumentError(
          absl::StrCat(QuoteArgument(arg), " gives a switch a value that is not true or false"));
    }
    out->push_back(std::move(option));
  }
  return absl::OkStatus();
}

}  // namespace mlcube
