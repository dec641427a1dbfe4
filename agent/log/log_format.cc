#include "agent/log/log_format.h"

#include <cstdint>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/json_quote.h"

namespace mlcube {
namespace {

// A set field under its name in each format.
struct NamedField {
  const char* text;
  const char* json;
  const char* journal;
  absl::string_view value;
};

// The record's fields in a fixed order; unset ones left out.
std::vector<NamedField> SetFields(const LogFields& fields) {
  std::vector<NamedField> set;
  if (!fields.job_id.empty()) set.push_back({"job", "job_id", "MLCUBE_JOB_ID", fields.job_id});
  if (!fields.identity.empty()) {
    set.push_back({"identity", "identity", "MLCUBE_IDENTITY", fields.identity});
  }
  if (!fields.request_id.empty()) {
    set.push_back({"request", "request_id", "MLCUBE_REQUEST_ID", fields.request_id});
  }
  return set;
}

// Control characters as C escapes (\n, \t, \x1b): one record, one line, and
// no escape sequence from a hostile name reaches the admin's terminal.
std::string OneLine(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (byte < 0x20 || byte == 0x7F) {
      out += absl::StrFormat("\\x%02x", byte);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string TextLine(const LogRecord& record) {
  std::string line = absl::StrCat("mlcube-agent: ", OneLine(record.message));
  const auto fields = SetFields(record.fields);
  for (size_t i = 0; i < fields.size(); ++i) {
    absl::StrAppend(&line, i == 0 ? " [" : " ", fields[i].text, "=", OneLine(fields[i].value));
  }
  if (!fields.empty()) line += "]";
  line += "\n";
  return line;
}

const char* SlogLevel(LogLevel level) {
  switch (level) {
    case LogLevel::kWarning:
      return "WARN";
    case LogLevel::kError:
      return "ERROR";
    default:
      return "INFO";
  }
}

std::string JsonLine(const LogRecord& record) {
  std::string line = absl::StrCat(
      "{\"time\":",
      JsonQuote(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", record.time, absl::UTCTimeZone())),
      ",\"level\":\"", SlogLevel(record.level), "\",\"msg\":", JsonQuote(record.message));
  for (const NamedField& field : SetFields(record.fields)) {
    absl::StrAppend(&line, ",\"", field.json, "\":", JsonQuote(field.value));
  }
  line += "}\n";
  return line;
}

// syslog(3) priorities, as the journal's PRIORITY field takes them.
int SyslogPriority(LogLevel level) {
  switch (level) {
    case LogLevel::kWarning:
      return 4;
    case LogLevel::kError:
      return 3;
    default:
      return 6;
  }
}

// One field of the native protocol: "NAME=value\n", or, for a value with a
// newline, "NAME\n", its length as 64-bit little-endian, the value and "\n".
void AppendJournalField(absl::string_view name, absl::string_view value, std::string* out) {
  if (value.find('\n') == absl::string_view::npos) {
    absl::StrAppend(out, name, "=", value, "\n");
    return;
  }
  absl::StrAppend(out, name, "\n");
  uint64_t size = value.size();
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((size >> (8 * i)) & 0xFF));
  absl::StrAppend(out, value, "\n");
}

}  // namespace

absl::StatusOr<LogFormat> ParseLogFormat(absl::string_view name) {
  if (name == "text") return LogFormat::kText;
  if (name == "json") return LogFormat::kJson;
  if (name == "journal") return LogFormat::kJournal;
  return absl::InvalidArgumentError(
      absl::StrCat("log format \"", OneLine(name), "\" is not one of auto, text, json, journal"));
}

std::string FormatLogLine(LogFormat format, const LogRecord& record) {
  return format == LogFormat::kJson ? JsonLine(record) : TextLine(record);
}

std::string FormatJournalEntry(const LogRecord& record) {
  std::string entry;
  AppendJournalField("MESSAGE", record.message, &entry);
  AppendJournalField("PRIORITY", absl::StrCat(SyslogPriority(record.level)), &entry);
  AppendJournalField("SYSLOG_IDENTIFIER", "mlcube-agent", &entry);
  for (const NamedField& field : SetFields(record.fields)) {
    AppendJournalField(field.journal, field.value, &entry);
  }
  return entry;
}

}  // namespace mlcube
