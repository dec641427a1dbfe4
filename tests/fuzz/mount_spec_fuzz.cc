// Fuzzes the path of a cube's parameter through the agent's mount plan and
// the mount strings the runtimes get (MountSpec::Render, what --bind,
// APPTAINER_BIND and --volume carry), then reads each string back with an
// independent model of the runtime's own grammar:
//   apptainer: pflag's CSV read of the flag value, ParseBindPath's element
//     split ([^,^:]+:?, TrimSpace, '\,' and '\:' escapes), newBindPath's
//     split of source, destination and options;
//   docker/podman: the daemon's SplitN(spec, ":", 4) and mode options;
//   both: Go's JSON encoding of the result (invalid UTF-8 -> U+FFFD).
// Either the plan refuses the path, or every rendered mount reads back as
// exactly the one mount planned, inside the workspace; a joined bind list
// reads back as the same mounts in order.
// Input: byte 0 flags (bit 0 file parameter, bit 1 read-only, bit 2 the
// older runners' container paths, bit 3 a second, read-only parameter at
// the workspace root); the rest is the parameter's path in the workspace.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "agent/runtimes/mount_spec.h"
#include "common/mount_planner.h"
#include "common/safe_path.h"

namespace {

struct ReadMount {
  std::string source;
  std::string dest;
  std::vector<std::string> options;
};

// --- Go runtime behaviour ---------------------------------------------------

// Length of the valid UTF-8 sequence at s[i], 0 if invalid (Go's
// utf8.DecodeRuneInString then yields RuneError of width 1).
size_t ValidSequenceAt(const std::string& s, size_t i, uint32_t* rune) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) {
    *rune = c;
    return 1;
  }
  size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
  if (n == 0 || c > 0xF4 || i + n > s.size()) return 0;
  uint32_t r = c & (0x7F >> n);
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    r = (r << 6) | (b(i + k) & 0x3F);
  }
  static const uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (r < kMin[n] || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF)) return 0;
  *rune = r;
  return n;
}

// What encoding/json writes for a Go string: invalid bytes become U+FFFD.
std::string GoJsonRoundTrip(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    uint32_t rune = 0;
    const size_t n = ValidSequenceAt(s, i, &rune);
    out += n == 0 ? std::string("\xEF\xBF\xBD") : s.substr(i, n);
    i += n == 0 ? 1 : n;
  }
  return out;
}

bool GoIsSpace(uint32_t r) {
  return r == '\t' || r == '\n' || r == '\v' || r == '\f' || r == '\r' || r == ' ' || r == 0x85 ||
         r == 0xA0 || r == 0x1680 || (r >= 0x2000 && r <= 0x200A) || r == 0x2028 || r == 0x2029 ||
         r == 0x202F || r == 0x205F || r == 0x3000;
}

// strings.TrimSpace.
std::string GoTrimSpace(const std::string& s) {
  size_t begin = 0;
  while (begin < s.size()) {
    uint32_t r = 0;
    const size_t n = ValidSequenceAt(s, begin, &r);
    if (n == 0 || !GoIsSpace(r)) break;
    begin += n;
  }
  size_t end = s.size();
  while (end > begin) {
    size_t start = end - 1;  // find the start of the last rune
    while (start > begin && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80 &&
           end - start < 4) {
      --start;
    }
    uint32_t r = 0;
    if (ValidSequenceAt(s, start, &r) != end - start || !GoIsSpace(r)) break;
    end = start;
  }
  return s.substr(begin, end - begin);
}

// --- pflag StringSlice: encoding/csv, one record -----------------------------

std::optional<std::vector<std::string>> ReadCsvRecord(std::string value) {
  size_t start = 0;  // csv skips empty lines
  while (start < value.size() && value[start] == '\n') ++start;
  value = value.substr(start);
  const size_t newline = value.find('\n');
  if (newline != std::string::npos) {
    value = value.substr(0, newline);
    if (!value.empty() && value.back() == '\r') value.pop_back();
  }
  std::vector<std::string> fields;
  size_t i = 0;
  while (true) {
    std::string field;
    if (i < value.size() && value[i] == '"') {
      for (++i;; ++i) {
        if (i >= value.size()) return std::nullopt;  // multi-line or unterminated
        if (value[i] != '"') {
          field += value[i];
        } else if (i + 1 < value.size() && value[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          break;
        }
      }
      ++i;
      if (i < value.size() && value[i] != ',') return std::nullopt;  // ErrQuote
    } else {
      const size_t comma = value.find(',', i);
      field = value.substr(i, comma == std::string::npos ? std::string::npos : comma - i);
      if (field.find('"') != std::string::npos) return std::nullopt;  // ErrBareQuote
      i = comma == std::string::npos ? value.size() : comma;
    }
    fields.push_back(field);
    if (i >= value.size()) break;
    ++i;  // the comma
  }
  return fields;
}

// --- apptainer ParseBindPath / newBindPath ------------------------------------

bool IsBindOption(const std::string& s) {
  return s == "ro" || s == "rw" || s.rfind("image-src=", 0) == 0 || s.rfind("id=", 0) == 0;
}

// regexp `([^,^:]+:?)`, FindAllString.
std::vector<std::string> BindElements(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == ',' || path[i] == '^' || path[i] == ':') {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < path.size() && path[j] != ',' && path[j] != '^' && path[j] != ':') ++j;
    if (j < path.size() && path[j] == ':') ++j;
    out.push_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

// splitBy(bind, ':'): split at every ':' not preceded by '\'.
std::vector<std::string> SplitUnescapedColons(const std::string& s) {
  std::vector<std::string> list;
  size_t cursor = 0;
  // The regexp ([^\\]:) matches without overlapping: a match consumes the
  // character before the ':' too.
  for (size_t i = 1; i < s.size(); ++i) {
    if (s[i] == ':' && s[i - 1] != '\\' && i - 1 >= cursor) {
      list.push_back(s.substr(cursor, i - cursor));
      cursor = i + 1;
      ++i;  // the next match starts after this ':'
    }
  }
  list.push_back(s.substr(cursor));
  return list;
}

std::optional<ReadMount> NewBindPath(const std::string& bind) {
  std::vector<std::string> parts = SplitUnescapedColons(bind);
  ReadMount m;
  m.source = parts[0];
  for (size_t at = 0; (at = m.source.find("\\:", at)) != std::string::npos;) {
    m.source.replace(at, 2, ":");
    ++at;
  }
  if (m.source.empty()) return std::nullopt;
  m.dest = parts.size() > 1 ? parts[1] : m.source;
  if (parts.size() > 2) {
    size_t begin = 0;
    while (true) {
      const size_t comma = parts[2].find(',', begin);
      std::string option =
          parts[2].substr(begin, comma == std::string::npos ? comma : comma - begin);
      if (!IsBindOption(option)) return std::nullopt;
      m.options.push_back(option);
      if (comma == std::string::npos) break;
      begin = comma + 1;
    }
  }
  return m;
}

// One pass of ParseBindPath over one flag value.
struct BindParser {
  std::vector<ReadMount> binds;
  bool failed = false;
  std::string bind;
  int elem = 0;
  bool concat_comma = false;
  bool concat_colon = false;

  void Flush() {
    auto bp = NewBindPath(bind);
    if (!bp) failed = true;
    if (bp) binds.push_back(*bp);
    elem = 0;
    bind.clear();
  }

  // Returns true when the element is consumed by the escape handling.
  bool Escapes(const std::string& s) {
    if ((!s.empty() && s.back() == '\\') || concat_comma) {
      if (!concat_comma) {
        bind += s.substr(0, s.size() - 1) + ",";
      } else {
        bind += s;
        ++elem;
      }
      concat_comma = !concat_comma;
      return true;
    }
    if ((s.size() >= 2 && s[s.size() - 2] == '\\' && s.back() == ':') || concat_colon) {
      bind += s;
      if (concat_colon) ++elem;
      concat_colon = !concat_colon;
      return true;
    }
    if (bind.empty()) bind = s;
    return false;
  }

  void Element(const std::string& m) {
    const std::string s = GoTrimSpace(m);
    const bool is_option = IsBindOption(s);
    if (elem == 2 && !is_option) Flush();
    if (elem == 0 && Escapes(s)) return;
    const bool is_colon = !bind.empty() && bind.back() == ':';
    if (elem == 2 && is_option) {
      if (!is_colon) bind += ",";
      bind += s;
      return;
    }
    if (elem > 2) {
      failed = true;
      return;
    }
    if (!bind.empty()) {
      if (is_colon) {
        if (elem > 0) bind += s;
        ++elem;
        return;
      }
      Flush();
      return;
    }
    bind = s;
    ++elem;
  }
};

std::optional<std::vector<ReadMount>> ApptainerReadBinds(const std::string& value) {
  auto fields = ReadCsvRecord(value);
  if (!fields) return std::nullopt;
  std::vector<ReadMount> all;
  for (const std::string& field : *fields) {
    BindParser parser;
    for (const std::string& m : BindElements(field)) parser.Element(m);
    if (!parser.bind.empty()) parser.Flush();
    if (parser.failed) return std::nullopt;
    all.insert(all.end(), parser.binds.begin(), parser.binds.end());
  }
  for (ReadMount& m : all) {  // the engine config travels as JSON
    m.source = GoJsonRoundTrip(m.source);
    m.dest = GoJsonRoundTrip(m.dest);
  }
  return all;
}

// --- docker daemon: volume/mounts linux parser ------------------------------

std::optional<ReadMount> DockerReadVolume(const std::string& spec) {
  const std::string raw = GoJsonRoundTrip(spec);  // HostConfig.Binds travels as JSON
  std::vector<std::string> arr;
  size_t begin = 0;
  while (arr.size() < 3) {  // strings.SplitN(raw, ":", 4)
    const size_t colon = raw.find(':', begin);
    if (colon == std::string::npos) break;
    arr.push_back(raw.substr(begin, colon - begin));
    begin = colon + 1;
  }
  arr.push_back(raw.substr(begin));
  if (arr[0].empty() || arr.size() < 2 || arr.size() > 3) return std::nullopt;
  ReadMount m{arr[0], arr[1], {}};
  if (arr.size() == 3) {
    size_t b = 0;
    while (true) {
      const size_t comma = arr[2].find(',', b);
      m.options.push_back(arr[2].substr(b, comma == std::string::npos ? comma : comma - b));
      if (comma == std::string::npos) break;
      b = comma + 1;
    }
  }
  return m;
}

// --- the check --------------------------------------------------------------

bool Same(const ReadMount& read, const mlcube::Mount& planned) {
  const std::vector<std::string> mode =
      planned.read_only ? std::vector<std::string>{"ro"} : std::vector<std::string>{};
  return read.source == planned.host_path && read.dest == planned.container_path &&
         read.options == mode;
}

void Check(const mlcube::TaskInvocation& invocation) {
  using mlcube::MountGrammar;
  using mlcube::MountSpec;
  std::string bind_list;
  for (const mlcube::Mount& m : invocation.mounts) {
    if (!mlcube::IsWithin(m.host_path, "/ws")) __builtin_trap();
    auto bind =
        MountSpec::Render(MountGrammar::kApptainerBind, m.host_path, m.container_path, m.read_only);
    auto volume =
        MountSpec::Render(MountGrammar::kDockerVolume, m.host_path, m.container_path, m.read_only);
    if (!bind.ok() || !volume.ok()) __builtin_trap();  // planned, then refused by the runtime
    auto binds = ApptainerReadBinds(*bind);
    if (!binds || binds->size() != 1 || !Same(binds->front(), m)) __builtin_trap();
    auto read = DockerReadVolume(*volume);
    if (!read || !Same(*read, m)) __builtin_trap();
    bind_list += (bind_list.empty() ? "" : ",") + *bind;
  }
  // APPTAINER_BIND: the mounts joined into one list.
  auto binds = ApptainerReadBinds(bind_list);
  if (!invocation.mounts.empty() && (!binds || binds->size() != invocation.mounts.size())) {
    __builtin_trap();
  }
  for (size_t i = 0; binds && i < binds->size(); ++i) {
    if (!Same((*binds)[i], invocation.mounts[i])) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t flags = data[0];
  const std::string value(reinterpret_cast<const char*>(data + 1), size - 1);
  mlcube::Task task;
  task.name = "t";
  task.mount_naming = flags & 4 ? mlcube::MountNaming::kOlderRunners : mlcube::MountNaming::kMlcube;
  mlcube::Parameter out;
  out.name = "out";
  out.type = flags & 1 ? mlcube::ParameterType::kFile : mlcube::ParameterType::kDirectory;
  out.access = flags & 2 ? mlcube::AccessMode::kReadOnly : mlcube::AccessMode::kReadWrite;
  out.default_value = value;
  out.host_path = "/ws/" + value;
  task.outputs.push_back(out);
  if (flags & 8) {
    mlcube::Parameter root;
    root.name = "root";
    root.type = mlcube::ParameterType::kDirectory;
    root.access = mlcube::AccessMode::kReadOnly;
    root.default_value = ".";
    root.host_path = "/ws";
    task.inputs.push_back(root);
  }
  mlcube::MountPlanOptions options;  // as agent/jobs/task_step.cc plans
  options.confine_to = "/ws";
  options.check_mount_path = [](const std::string& path) {
    return mlcube::MountSpec::CheckPathForEveryRuntime(path);
  };
  auto plan = mlcube::PlanTaskInvocation(task, options);
  if (plan.ok()) Check(*plan);
  return 0;
}
