#ifndef MLCUBE_REMOTE_COMMON_GETOPT_LONG_GRAMMAR_H_
#define MLCUBE_REMOTE_COMMON_GETOPT_LONG_GRAMMAR_H_

// The option grammar of a C program that parses its command line with
// glibc's getopt_long and an option string starting with '+' (sbatch, srun):
//   --name=value, --name value  a long option (value in the next argument
//                               only when the option requires one)
//   --nam                       any prefix of exactly one long name (an exact
//                               name wins over longer names it prefixes)
//   -x, -xVALUE, -x VALUE       a short option; "-abc" is a, b, then c, and
//                               the first that takes a value takes the rest
//                               ("-vo/path" is -v and -o /path)
//   an optional value is attached only: "--nice=5", "-k5"; "--nice 5" is
//   --nice followed by the positional "5"
//   --, or the first argument not starting with '-' (a lone "-" included),
//   ends the options: getopt stops there and the program takes it as its
//   own argument (sbatch: the script).
// Parse takes arguments meant to be options only, so a positional or "--"
// is an error here, as are unknown and ambiguous names, a missing value and
// a value given to an option that takes none.

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace mlcube {

enum class GetoptArgument { kNone, kRequired, kOptional };

// One option; `short_name` is 0 when it has no one-letter form.
struct GetoptOption {
  const char* long_name;
  char short_name;
  GetoptArgument argument;
};

// One occurrence as the program sees it.
struct GetoptOccurrence {
  const GetoptOption* option = nullptr;
  std::string spelling;  // the arguments as written ("-vo/x" for both -v and -o)
  bool has_value = false;
  std::string value;
};

class GetoptLongGrammar {
 public:
  // `options` must outlive the grammar and the parse results.
  explicit GetoptLongGrammar(const std::vector<GetoptOption>* options) : options_(options) {}

  // The occurrences of `args`, in order; INVALID_ARGUMENT naming the
  // offending argument otherwise (see above).
  absl::StatusOr<std::vector<GetoptOccurrence>> Parse(const std::vector<std::string>& args) const;

  // The long option `name` (without dashes) abbreviates: an exact name, else
  // the only one it prefixes. INVALID_ARGUMENT when it names none or several.
  absl::StatusOr<const GetoptOption*> FindLong(const std::string& name) const;

 private:
  absl::Status ParseLong(const std::vector<std::string>& args, size_t* i,
                         std::vector<GetoptOccurrence>* out) const;
  absl::Status ParseShorts(const std::vector<std::string>& args, size_t* i,
                           std::vector<GetoptOccurrence>* out) const;

  const std::vector<GetoptOption>* options_;
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_COMMON_GETOPT_LONG_GRAMMAR_H_
