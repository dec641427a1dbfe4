// The dashboard's parts that need no agent: its access gate, the JSON it
// sends, its built-in page, and the event stream of one job page (against a
// fake Jobs service on an in-process gRPC server).

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/synchronization/notification.h"
#include "controller/ui/dashboard_access.h"
#include "controller/ui/dashboard_json.h"
#include "controller/ui/job_event_stream.h"
#include "controller/ui/web_assets.h"
#include "mlcube_remote/v1/jobs.grpc.pb.h"
#include "tests/support/temp_dir.h"

namespace mlcube {
namespace {

using std::chrono::milliseconds;

DashboardAccess NewAccess(int port) {
  absl::StatusOr<DashboardAccess> access = DashboardAccess::Create(port);
  EXPECT_TRUE(access.ok()) << access.status();
  return *access;
}

// "name=value" of the Set-Cookie header.
std::string CookiePair(const DashboardAccess& access) {
  const std::string header = access.SessionCookieHeader();
  return header.substr(0, header.find(';'));
}

TEST(DashboardAccessTest, OnlyTheExactTokenMatches) {
  DashboardAccess access = NewAccess(8080);
  std::string token = access.token();
  EXPECT_EQ(token.size(), 32u);
  EXPECT_TRUE(access.TokenMatches(token));
  EXPECT_FALSE(access.TokenMatches(""));
  EXPECT_FALSE(access.TokenMatches(token.substr(1)));
  EXPECT_FALSE(access.TokenMatches(token + "0"));
  token[5] = token[5] == 'a' ? 'b' : 'a';
  EXPECT_FALSE(access.TokenMatches(token));
  EXPECT_FALSE(access.TokenMatches(access.csrf_token()));
}

TEST(DashboardAccessTest, TwoStartsHaveDifferentSecrets) {
  DashboardAccess first = NewAccess(8080);
  DashboardAccess second = NewAccess(8080);
  EXPECT_NE(first.token(), second.token());
  EXPECT_NE(first.csrf_token(), second.csrf_token());
  EXPECT_NE(CookiePair(first), CookiePair(second));
}

TEST(DashboardAccessTest, OnlyTheDashboardsOwnNameIsAllowedAsHost) {
  DashboardAccess access = NewAccess(8080);
  for (const char* allowed : {"127.0.0.1:8080", "localhost:8080", "LocalHost:8080"}) {
    EXPECT_TRUE(access.HostAllowed(allowed)) << allowed;
  }
  for (const char* refused :
       {"", "127.0.0.1", "localhost", "127.0.0.1:8081", "evil.example:8080",
        "localhost.evil.example:8080", "127.0.0.1:8080.evil.example", "[::1]:8080"}) {
    EXPECT_FALSE(access.HostAllowed(refused)) << refused;
  }
}

TEST(DashboardAccessTest, TheSessionCookieIsFoundAmongOthersAndIsHttpOnlyStrict) {
  DashboardAccess access = NewAccess(8080);
  const std::string pair = CookiePair(access);
  EXPECT_TRUE(access.HasSession(pair));
  EXPECT_TRUE(access.HasSession("theme=dark; " + pair + "; other=1"));
  EXPECT_FALSE(access.HasSession(""));
  EXPECT_FALSE(access.HasSession("x" + pair));
  EXPECT_FALSE(access.HasSession(std::string(DashboardAccess::kCookieName) + "=" + access.token()));
  EXPECT_NE(access.SessionCookieHeader().find("; HttpOnly"), std::string::npos);
  EXPECT_NE(access.SessionCookieHeader().find("; SameSite=Strict"), std::string::npos);
}

TEST(DashboardAccessTest, OnlyTheCsrfTokenPassesTheCsrfCheck) {
  DashboardAccess access = NewAccess(8080);
  EXPECT_TRUE(access.CsrfMatches(access.csrf_token()));
  EXPECT_FALSE(access.CsrfMatches(""));
  EXPECT_FALSE(access.CsrfMatches(access.token()));
}

TEST(DashboardJsonTest, BytesOfATasksOutputThatAreNotUtf8AreReplaced) {
  mlcube_remote::v1::JobEvent event;
  event.mutable_log()->set_stream(mlcube_remote::v1::LOG_STREAM_STDERR);
  event.mutable_log()->set_data("ok \xff\xfe end\n");
  const std::string text = DumpJson(JobEventJson(event));
  nlohmann::json parsed = nlohmann::json::parse(text);
  EXPECT_EQ(parsed["stream"], "stderr");
  EXPECT_EQ(parsed["text"], "ok \xEF\xBF\xBD\xEF\xBF\xBD end\n");
}

TEST(DashboardJsonTest, AStateChangeCarriesItsNameExitCodeAndReason) {
  mlcube_remote::v1::JobEvent event;
  event.mutable_state()->set_state(mlcube_remote::v1::JOB_STATE_FAILED);
  event.mutable_state()->set_exit_code(7);
  event.mutable_state()->set_reason("task fail exited with 7");
  nlohmann::json json = JobEventJson(event);
  EXPECT_EQ(json["state"], "FAILED");
  EXPECT_EQ(json["exit_code"], 7);
  EXPECT_EQ(json["reason"], "task fail exited with 7");
}

TEST(DashboardJsonTest, AnAgentOfAnotherVersionIsFlagged) {
  HostReport report;
  report.name = "gpu01";
  report.reachable = true;
  report.info.set_agent_version("0.0.9");
  EXPECT_TRUE(HostJson(report, false, "0.1.0")["version_skew"].get<bool>());
  report.info.set_agent_version("0.1.0");
  EXPECT_FALSE(HostJson(report, true, "0.1.0")["version_skew"].get<bool>());
  report.reachable = false;
  report.error = "connection refused";
  nlohmann::json down = HostJson(report, false, "0.1.0");
  EXPECT_EQ(down["error"], "connection refused");
  EXPECT_FALSE(down.contains("agent_version"));
}

TEST(WebAssetsTest, ThePageAndChartJsAreBuiltInAndNothingElse) {
  std::optional<WebAsset> page = FindWebAsset("/");
  ASSERT_TRUE(page);
  EXPECT_NE(page->body.find("/assets/app.js"), std::string_view::npos);
  EXPECT_EQ(page->content_type.substr(0, 9), "text/html");
  std::optional<WebAsset> chart = FindWebAsset("/assets/chart.min.js");
  ASSERT_TRUE(chart);
  EXPECT_NE(chart->body.find("Chart.js v3"), std::string_view::npos);
  // Not text/*: the HTTP library would compress it, slowly, for 127.0.0.1.
  EXPECT_EQ(chart->content_type, "application/javascript; charset=utf-8");
  for (const char* missing : {"/assets/", "/assets/../index.html", "/etc/passwd", "/api/jobs"}) {
    EXPECT_FALSE(FindWebAsset(missing)) << missing;
  }
}

// WatchJob as a test wants it: events from the offset asked for (one "line
// N\n" per offset step of 10), then either the end or silence until the
// call is cancelled.
class FakeJobs : public mlcube_remote::v1::Jobs::Service {
 public:
  explicit FakeJobs(bool end_after_events) : end_after_events_(end_after_events) {}

  grpc::Status WatchJob(grpc::ServerContext* context,
                        const mlcube_remote::v1::WatchJobRequest* request,
                        grpc::ServerWriter<mlcube_remote::v1::JobEvent>* writer) override {
    asked_offset = request->from_offset();
    for (int64_t offset = request->from_offset(); offset < 30; offset += 10) {
      mlcube_remote::v1::JobEvent event;
      event.set_offset(offset);
      event.set_next_offset(offset + 10);
      event.mutable_log()->set_data("line " + std::to_string(offset / 10) + "\n");
      writer->Write(event);
    }
    if (end_after_events_) return grpc::Status::OK;
    while (!context->IsCancelled()) std::this_thread::sleep_for(milliseconds(5));
    cancelled.Notify();
    return grpc::Status::CANCELLED;
  }

  std::atomic<int64_t> asked_offset{-1};
  absl::Notification cancelled;

 private:
  const bool end_after_events_;
};

class JobEventStreamTest : public ::testing::Test {
 protected:
  void Serve(bool end_after_events) {
    jobs_ = std::make_unique<FakeJobs>(end_after_events);
    const std::string address = "unix://" + dir_.path() + "/agent.sock";
    grpc::ServerBuilder builder;
    builder.AddListeningPort(address, grpc::InsecureServerCredentials());
    builder.RegisterService(jobs_.get());
    server_ = builder.BuildAndStart();
    ASSERT_TRUE(server_);
    HostAddress host;
    host.name = "fake";
    host.address = address;
    absl::StatusOr<std::unique_ptr<AgentConnection>> agent = AgentConnection::Open(host);
    ASSERT_TRUE(agent.ok()) << agent.status();
    agent_ = std::move(*agent);
  }

  // Everything the stream sends until it has `wanted` in it or is over.
  std::string ReadUntil(JobEventStream& stream, const std::string& wanted) {
    std::string all;
    while (all.find(wanted) == std::string::npos) {
      std::optional<std::string> next = stream.Next(milliseconds(5000));
      if (!next) break;
      all += *next;
    }
    return all;
  }

  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  ::mlcube::testing::TempDir dir_;
  std::unique_ptr<FakeJobs> jobs_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<AgentConnection> agent_;
  std::atomic<bool> stopping_{false};
};

TEST_F(JobEventStreamTest, EventsCarryTheOffsetToResumeAtAndAnEndedJobSendsEnd) {
  Serve(/*end_after_events=*/true);
  JobEventStream stream(agent_, "job1", 10, &stopping_);
  const std::string sent = ReadUntil(stream, "event: end");
  EXPECT_EQ(jobs_->asked_offset, 10);
  EXPECT_NE(sent.find("retry: 1000\n\n"), std::string::npos) << sent;
  EXPECT_EQ(sent.find("line 0"), std::string::npos) << sent;
  EXPECT_NE(
      sent.find("id: 20\nevent: log\ndata: {\"stream\":\"agent\",\"text\":\"line 1\\n\"}\n\n"),
      std::string::npos)
      << sent;
  EXPECT_NE(sent.find("id: 30\nevent: log\n"), std::string::npos) << sent;
  EXPECT_NE(sent.find("event: end\n"), std::string::npos) << sent;
  EXPECT_FALSE(stream.Next(milliseconds(1000)));
}

TEST_F(JobEventStreamTest, AnIdleStreamSendsKeepAlivesAndClosingItCancelsTheWatch) {
  Serve(/*end_after_events=*/false);
  {
    JobEventStream stream(agent_, "job1", 0, &stopping_);
    ReadUntil(stream, "id: 30\n");
    EXPECT_EQ(stream.Next(milliseconds(300)), ": keep-alive\n\n");
  }
  EXPECT_TRUE(jobs_->cancelled.WaitForNotificationWithTimeout(absl::Seconds(10)));
}

TEST_F(JobEventStreamTest, AStoppingServerEndsAWaitAtOnce) {
  Serve(/*end_after_events=*/false);
  JobEventStream stream(agent_, "job1", 0, &stopping_);
  ReadUntil(stream, "id: 30\n");
  stopping_ = true;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(stream.Next(milliseconds(60000)));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

}  // namespace
}  // namespace mlcube
