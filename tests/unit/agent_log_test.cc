// The agent's log records in each format, the per-thread fields, and the
// journal output over a real datagram socket.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cstring>
#include <string>
#include <thread>

#include "agent/log/log_fields.h"
#include "agent/log/log_format.h"
#include "agent/log/log_output.h"
#include "agent/server/request_log_interceptor.h"
#include "common/json_quote.h"
#include "common/unique_fd.h"
#include "tests/support/temp_dir.h"

namespace mlcube {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

LogRecord Record(const std::string& message, LogFields fields = {}) {
  LogRecord record;
  record.time = absl::FromUnixMillis(1796604123456);  // 2026-12-07T00:42:03.456Z
  record.message = message;
  record.fields = std::move(fields);
  return record;
}

LogFields AllFields() {
  LogFields fields;
  fields.request_id = "r1";
  fields.identity = "cn-alice";
  fields.job_id = "0badcafe";
  return fields;
}

TEST(JsonQuoteTest, EscapesControlsAndReplacesBytesThatAreNotUtf8) {
  EXPECT_EQ(JsonQuote("a\nb\t\x01\\\"\x7f"), "\"a\\nb\\t\\u0001\\\\\\\"\\u007f\"");
  EXPECT_EQ(JsonQuote("caf\xC3\xA9"), "\"caf\xC3\xA9\"");
  // A lone continuation byte, an overlong '/', a truncated sequence.
  EXPECT_EQ(JsonQuote("x\x80y\xC0\xAFz\xE2\x82"),
            "\"x\xEF\xBF\xBDy\xEF\xBF\xBD\xEF\xBF\xBDz\xEF\xBF\xBD\xEF\xBF\xBD\"");
}

TEST(LogFormatTest, TextIsOneLineWithTheFieldsAtTheEnd) {
  EXPECT_EQ(FormatLogLine(LogFormat::kText, Record("deleted x")), "mlcube-agent: deleted x\n");
  EXPECT_EQ(FormatLogLine(LogFormat::kText, Record("two\nlines\x1b[31m", AllFields())),
            "mlcube-agent: two\\nlines\\x1b[31m [job=0badcafe identity=cn-alice request=r1]\n");
}

TEST(LogFormatTest, JsonIsOneObjectPerLineWithSlogKeys) {
  LogRecord record = Record("caf\xC3\xA9 \"quoted\"\nand \xFF", AllFields());
  record.level = LogLevel::kWarning;
  const std::string line = FormatLogLine(LogFormat::kJson, record);
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  const YAML::Node parsed = YAML::Load(line);
  ASSERT_TRUE(parsed.IsMap()) << line;
  EXPECT_EQ(parsed["time"].as<std::string>(), "2026-12-07T00:42:03.456Z");
  EXPECT_EQ(parsed["level"].as<std::string>(), "WARN");
  EXPECT_EQ(parsed["msg"].as<std::string>(), "caf\xC3\xA9 \"quoted\"\nand \xEF\xBF\xBD");
  EXPECT_EQ(parsed["request_id"].as<std::string>(), "r1");
  EXPECT_EQ(parsed["identity"].as<std::string>(), "cn-alice");
  EXPECT_EQ(parsed["job_id"].as<std::string>(), "0badcafe");
  // Unset fields are left out, not written empty.
  EXPECT_THAT(FormatLogLine(LogFormat::kJson, Record("x")), Not(HasSubstr("job_id")));
}

TEST(LogFormatTest, JournalEntryUsesTheBinaryFormForMultiLineValues) {
  LogFields fields;
  fields.job_id = "0badcafe";
  EXPECT_EQ(
      FormatJournalEntry(Record("one line", fields)),
      "MESSAGE=one line\nPRIORITY=6\nSYSLOG_IDENTIFIER=mlcube-agent\nMLCUBE_JOB_ID=0badcafe\n");
  const std::string entry = FormatJournalEntry(Record("a\nb"));
  EXPECT_EQ(entry.substr(0, 8 + 8 + 4), std::string("MESSAGE\n\x03\0\0\0\0\0\0\0a\nb\n", 20));
}

TEST(LogFormatTest, UnknownFormatNamesTheAcceptedOnes) {
  EXPECT_TRUE(ParseLogFormat("json").ok());
  absl::StatusOr<LogFormat> bad = ParseLogFormat("xml");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("\"xml\" is not one of auto, text, json, journal"));
}

TEST(LogScopeTest, InnerScopesAddFieldsAndEndWithTheirScope) {
  EXPECT_TRUE(LogScope::Current().empty());
  {
    LogFields request;
    request.request_id = "r1";
    request.identity = "uid-1000";
    LogScope outer(request);
    {
      LogFields job;
      job.job_id = "j1";
      LogScope inner(job);
      EXPECT_EQ(LogScope::Current().request_id, "r1");
      EXPECT_EQ(LogScope::Current().job_id, "j1");
      LogScope fresh(job, LogScope::Outer::kIgnore);
      EXPECT_EQ(LogScope::Current().request_id, "");
      EXPECT_EQ(LogScope::Current().job_id, "j1");
    }
    EXPECT_EQ(LogScope::Current().job_id, "");
    EXPECT_EQ(LogScope::Current().identity, "uid-1000");
    // Another thread has fields of its own.
    std::thread([] { EXPECT_TRUE(LogScope::Current().empty()); }).join();
  }
  EXPECT_TRUE(LogScope::Current().empty());
}

TEST(RequestLogTest, KeepsAWellFormedClientIdAndMakesOneOtherwise) {
  EXPECT_EQ(RequestLogInterceptorFactory::RequestIdFor("run-42.a_b"), "run-42.a_b");
  for (const std::string& bad :
       {std::string(), std::string("a b"), std::string("x\ny"), std::string(65, 'a')}) {
    EXPECT_THAT(RequestLogInterceptorFactory::RequestIdFor(bad), MatchesRegex("[0-9a-f]{16}"));
  }
  EXPECT_NE(RequestLogInterceptorFactory::RequestIdFor(""),
            RequestLogInterceptorFactory::RequestIdFor(""));
  EXPECT_TRUE(RequestLogInterceptorFactory::ChangesState("SubmitJobs"));
  EXPECT_FALSE(RequestLogInterceptorFactory::ChangesState("GetJob"));
}

TEST(LogOutputTest, JournalRecordsArriveOnItsSocket) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/journal.socket";
  UniqueFd journal(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  ASSERT_EQ(::bind(journal.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);

  LogOutput output;
  ASSERT_TRUE(output.Configure("journal", "", path).ok());
  EXPECT_EQ(output.format(), LogFormat::kJournal);
  output.Write(Record("hello journal", AllFields()));
  char buffer[4096];
  const ssize_t n = ::recv(journal.get(), buffer, sizeof(buffer), 0);
  ASSERT_GT(n, 0);
  const std::string entry(buffer, static_cast<size_t>(n));
  EXPECT_THAT(entry, HasSubstr("MESSAGE=hello journal\n"));
  EXPECT_THAT(entry, HasSubstr("MLCUBE_IDENTITY=cn-alice\n"));
  EXPECT_THAT(entry, HasSubstr("MLCUBE_REQUEST_ID=r1\n"));
}

TEST(LogOutputTest, JournalThatIsNotThereIsAnErrorAndAutoWithoutItIsText) {
  LogOutput output;
  absl::Status missing = output.Configure("journal", "", "/nonexistent/journal.socket");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.message(), HasSubstr("cannot reach the journal at /nonexistent/journal"));
  EXPECT_EQ(output.format(), LogFormat::kText);
  ASSERT_TRUE(output.Configure("auto", "", "/nonexistent/journal.socket").ok());
  EXPECT_EQ(output.format(), LogFormat::kText);
  // A stream that is not this process's stderr is not the journal either.
  ASSERT_TRUE(output.Configure("auto", "1:1", "/nonexistent/journal.socket").ok());
  EXPECT_EQ(output.format(), LogFormat::kText);
}

}  // namespace
}  // namespace mlcube
