#ifndef MLCUBE_REMOTE_AGENT_RUNTIMES_OPTION_GRAMMAR_H_
#define MLCUBE_REMOTE_AGENT_RUNTIMES_OPTION_GRAMMAR_H_

// The option grammar of the container runtimes' command lines. Docker,
// Podman and Apptainer all parse options with Go's spf13/pflag, so an
// argument vector means the same here as it does to them:
//   --name            a boolean, or an option whose value is the next argument
//                     (whatever that argument looks like, "-v" included)
//   --name=value      the value attached ("--name=" is an empty value)
//   -x                a boolean, or an option whose value is the next argument
//   -xVALUE, -x=VALUE an option with its value attached ("-u0", "-v/:/h")
//   -abc              booleans a and b, then c (with "-abcVAL" c takes "VAL")
//   --                the end of the options: everything after is positional
// A boolean also takes an attached literal ("--rm=false", "-t=true").
// Names are matched exactly (pflag has no abbreviations); a name the table
// does not know is an error, since its arity (and so the meaning of every
// argument after it) is unknown.

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace mlcube {

// One option of a runtime command. `long_name` without dashes; `short_name`
// is 0 when the option has no one-letter form.
struct OptionSpec {
  const char* long_name;
  char short_name;
  bool takes_value;
};

// One option occurrence, or one positional argument (spec == nullptr).
struct ParsedOption {
  const OptionSpec* spec = nullptr;
  // The arguments as written: "-u0", "--network host", "-it".
  std::string spelling;
  // The value ("true" for a boolean given without one).
  std::string value;
  // Index of the first argument of this occurrence.
  size_t index = 0;
};

class OptionGrammar {
 public:
  // `options` must outlive the grammar and the parse results.
  explicit OptionGrammar(const std::vector<OptionSpec>* options) : options_(options) {}

  // The occurrences of `args` in order. "--" and everything after it come
  // back as positionals (spec == nullptr, "--" included). INVALID_ARGUMENT
  // for an unknown option, a missing value, a boolean with a non-boolean
  // attached value or malformed syntax ("---x", "--=x"); the message starts
  // with the offending argument, quoted and escaped.
  absl::StatusOr<std::vector<ParsedOption>> Parse(const std::vector<std::string>& args) const;

  const OptionSpec* FindLong(const std::string& name) const;
  const OptionSpec* FindShort(char name) const;

 private:
  absl::Status ParseLong(const std::vector<std::string>& args, size_t* i,
                         std::vector<ParsedOption>* out) const;
  absl::Status ParseShorts(const std::vector<std::string>& args, size_t* i,
                           std::vector<ParsedOption>* out) const;

  const std::vector<OptionSpec>* options_;
};

// `arg` quoted, C-escaped and cut to a readable length, for messages.
std::string QuoteArgument(const std::string& arg);

// pflag's boolean literals: 1 t T TRUE true True 0 f F FALSE false False.
bool IsBoolLiteral(const std::string& text);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_RUNTIMES_OPTION_GRAMMAR_H_
