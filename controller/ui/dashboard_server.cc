#include "controller/ui/dashboard_server.h"

#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <chrono>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "controller/ui/dashboard_json.h"
#include "controller/ui/job_event_stream.h"
#include "controller/ui/web_assets.h"

namespace mlcube {
namespace {

using nlohmann::json;

// Each open job page holds a thread for its event stream; past
// kMaxEventStreams a new stream is refused (503) so the rest of the
// dashboard still answers.
constexpr int kThreads = 128;
constexpr int kMaxEventStreams = 112;
constexpr size_t kMaxParamBytes = 256;
// An idle event stream sends a comment this often, so a closed tab is
// noticed and proxies keep the connection.
constexpr std::chrono::seconds kKeepAlive{15};

// Content types httplib 0.11 does not compress. It compresses what a
// browser accepts with Brotli at its slowest level: 233 ms of CPU for the
// JSON of 1,000 jobs, 26 s for a 20 MB log, where 127.0.0.1 needs none. It
// matches "application/json" and "application/javascript" exactly, and
// every "text/" type (the page's own small files stay text/).
constexpr char kJsonType[] = "application/json; charset=utf-8";
constexpr char kLogDownloadType[] = "application/octet-stream";

void SendJson(httplib::Response& response, const json& body, int status = 200) {
  response.status = status;
  response.set_header("Cache-Control", "no-store");
  response.set_content(DumpJson(body), kJsonType);
}

int HttpStatusFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kFailedPrecondition:
      return 409;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return 502;
    default:
      return 500;
  }
}

void SendResult(httplib::Response& response, const absl::StatusOr<json>& result) {
  if (result.ok()) return SendJson(response, *result);
  SendJson(response, {{"error", std::string(result.status().message())}},
           HttpStatusFor(result.status()));
}

void SendText(httplib::Response& response, int status, const std::string& text) {
  response.status = status;
  response.set_content(absl::StrCat(text, "\n"), "text/plain; charset=utf-8");
}

// The host and job a request names (?host=H&id=J); false (with a 400 sent)
// when one is missing or too long.
bool JobParams(const httplib::Request& request, httplib::Response& response, std::string* host,
               std::string* job_id) {
  *host = request.get_param_value("host");
  *job_id = request.get_param_value("id");
  if (host->empty() || job_id->empty() || host->size() > kMaxParamBytes ||
      job_id->size() > kMaxParamBytes) {
    SendJson(response, {{"error", "expected ?host=HOST&id=JOB"}}, 400);
    return false;
  }
  return true;
}

// Where an event stream resumes: Last-Event-ID (a reconnecting browser),
// else ?from=, else the start; -1 when what is given is not an offset.
int64_t ResumeOffset(const httplib::Request& request) {
  std::string given = request.get_header_value("Last-Event-ID");
  if (given.empty()) given = request.get_param_value("from");
  if (given.empty()) return 0;
  int64_t offset = -1;
  if (!absl::SimpleAtoi(given, &offset) || offset < 0) return -1;
  return offset;
}

// `text` with everything but [A-Za-z0-9._-] replaced by '_': safe inside a
// quoted header value.
std::string FileNamePart(const std::string& text) {
  std::string part = text;
  for (char& c : part) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      c = '_';
    }
  }
  return part;
}

// The listening socket's options, which accepted connections inherit:
// TCP_NODELAY, or each answer after the first on a kept-alive connection
// waits ~40 ms for a delayed ACK (headers and body are two writes); and
// SO_REUSEADDR for a quick restart, but not httplib's default SO_REUSEPORT,
// which would let a second dashboard share the port.
void ListeningSocketOptions(int socket) {
  const int yes = 1;
  setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  setsockopt(socket, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
}

httplib::Headers SecurityHeaders() {
  return {{"Content-Security-Policy",
           "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; "
           "form-action 'self'"},
          {"X-Content-Type-Options", "nosniff"},
          {"X-Frame-Options", "DENY"},
          {"Referrer-Policy", "no-referrer"}};
}

}  // namespace

absl::StatusOr<std::unique_ptr<DashboardServer>> DashboardServer::Bind(int port, AgentPool* agents,
                                                                       DashboardData* data) {
  auto server = std::make_unique<httplib::Server>();
  server->set_socket_options(ListeningSocketOptions);
  int bound = port;
  if (port == 0) {
    bound = server->bind_to_any_port("127.0.0.1");
  } else if (!server->bind_to_port("127.0.0.1", port)) {
    bound = -1;
  }
  if (bound <= 0) {
    return absl::UnavailableError(
        absl::StrCat("dashboard: cannot listen on 127.0.0.1:", port, " (in use? try --port=0)"));
  }
  absl::StatusOr<DashboardAccess> access = DashboardAccess::Create(bound);
  if (!access.ok()) return access.status();
  std::unique_ptr<DashboardServer> dashboard(
      new DashboardServer(std::move(server), std::move(*access), agents, data));
  dashboard->AddRoutes();
  return dashboard;
}

DashboardServer::DashboardServer(std::unique_ptr<httplib::Server> server, DashboardAccess access,
                                 AgentPool* agents, DashboardData* data)
    : server_(std::move(server)), access_(std::move(access)), agents_(agents), data_(data) {}

DashboardServer::~DashboardServer() { Stop(); }

std::string DashboardServer::Url() const {
  return absl::StrCat("http://127.0.0.1:", access_.port(), "/?token=", access_.token());
}

void DashboardServer::Serve() { server_->listen_after_bind(); }

void DashboardServer::Stop() {
  stopping_ = true;
  server_->stop();
}

bool DashboardServer::Admit(const httplib::Request& request, httplib::Response& response) const {
  if (!access_.HostAllowed(request.get_header_value("Host"))) {
    SendText(response, 403, "mlcube-remote ui: this Host header is not the dashboard's");
    return false;
  }
  if (request.path == "/" && request.has_param("token")) {
    if (!access_.TokenMatches(request.get_param_value("token"))) {
      SendText(response, 401, "mlcube-remote ui: wrong token");
      return false;
    }
    // The request token travels in the fragment, which no server sees: the
    // page keeps it in this origin's storage.
    response.set_header("Set-Cookie", access_.SessionCookieHeader());
    response.set_redirect("/#csrf=" + access_.csrf_token(), 303);
    return false;
  }
  if (!access_.HasSession(request.get_header_value("Cookie"))) {
    SendText(response, 401,
             "mlcube-remote ui: open the address `mlcube-remote ui` printed (it has the token)");
    return false;
  }
  // Cookies are not kept apart by port: any server on 127.0.0.1 the browser
  // visits gets this one. So the cookie alone opens nothing but the page;
  // each API request also carries the request token (a header, or for an
  // event stream or a download link, which cannot send one, ?csrf=).
  const bool is_api = request.path.rfind("/api/", 0) == 0;
  const bool token_in_query =
      request.method == "GET" && (request.path == "/api/events" || request.path == "/api/log");
  if (is_api && !access_.CsrfMatches(request.get_header_value("X-CSRF-Token")) &&
      !(token_in_query && access_.CsrfMatches(request.get_param_value("csrf")))) {
    SendText(response, 403, "mlcube-remote ui: missing or wrong request token (X-CSRF-Token)");
    return false;
  }
  return true;
}

void DashboardServer::AddRoutes() {
  server_->new_task_queue = [] { return new httplib::ThreadPool(kThreads); };
  server_->set_default_headers(SecurityHeaders());
  server_->set_pre_routing_handler(
      [this](const httplib::Request& request, httplib::Response& response) {
        return Admit(request, response) ? httplib::Server::HandlerResponse::Unhandled
                                        : httplib::Server::HandlerResponse::Handled;
      });
  server_->Get("/(|index.html|assets/.*)",
               [](const httplib::Request& request, httplib::Response& response) {
                 std::optional<WebAsset> asset = FindWebAsset(request.path);
                 if (!asset) return SendText(response, 404, "not found");
                 response.set_content(std::string(asset->body), std::string(asset->content_type));
               });
  server_->Get("/api/session", [this](const httplib::Request&, httplib::Response& response) {
    SendJson(response, {{"version", MLCUBE_REMOTE_VERSION}, {"cube", data_->CubeJson()}});
  });
  server_->Get("/api/hosts", [this](const httplib::Request&, httplib::Response& response) {
    SendJson(response, data_->Hosts());
  });
  server_->Get("/api/jobs", [this](const httplib::Request& request, httplib::Response& response) {
    SendJson(response, data_->Jobs(request.get_param_value("all") == "1"));
  });
  server_->Get("/api/job", [this](const httplib::Request& request, httplib::Response& response) {
    std::string host, job_id;
    if (JobParams(request, response, &host, &job_id))
      SendResult(response, data_->Job(host, job_id));
  });
  server_->Post("/api/cancel",
                [this](const httplib::Request& request, httplib::Response& response) {
                  std::string host, job_id;
                  if (JobParams(request, response, &host, &job_id)) {
                    SendResult(response, data_->Cancel(host, job_id));
                  }
                });
  server_->Post("/api/rerun", [this](const httplib::Request& request, httplib::Response& response) {
    std::string host, job_id;
    if (JobParams(request, response, &host, &job_id))
      SendResult(response, data_->Rerun(host, job_id));
  });
  server_->Post("/api/pull", [this](const httplib::Request& request, httplib::Response& response) {
    std::string host, job_id;
    if (JobParams(request, response, &host, &job_id)) {
      SendResult(response, data_->PullOutputs(host, job_id));
    }
  });
  server_->Post("/api/rerun-failed",
                [this](const httplib::Request& request, httplib::Response& response) {
                  SendResult(response, data_->RerunFailedRuns(request.get_param_value("sweep")));
                });
  server_->Get("/api/events", [this](const httplib::Request& request, httplib::Response& response) {
    ServeEvents(request, response);
  });
  server_->Get("/api/log", [this](const httplib::Request& request, httplib::Response& response) {
    ServeLogDownload(request, response);
  });
  server_->Get("/api/sweeps", [this](const httplib::Request&, httplib::Response& response) {
    SendJson(response, data_->Sweeps());
  });
  server_->Get("/api/curves", [this](const httplib::Request& request, httplib::Response& response) {
    SendResult(response, data_->Curves(request.get_param_value("sweep")));
  });
}

void DashboardServer::ServeEvents(const httplib::Request& request, httplib::Response& response) {
  std::string host, job_id;
  if (!JobParams(request, response, &host, &job_id)) return;
  const int64_t offset = ResumeOffset(request);
  if (offset < 0)
    return SendJson(response, {{"error", "expected a byte offset to resume at"}}, 400);
  // Held by the stream's provider: released when the response ends.
  struct Slot {
    std::atomic<int>* open;
    ~Slot() { --*open; }
  };
  auto slot = std::make_shared<Slot>(Slot{&open_event_streams_});
  if (++open_event_streams_ > kMaxEventStreams) {
    return SendJson(response,
                    {{"error", absl::StrCat("more than ", kMaxEventStreams,
                                            " job pages follow logs; close some")}},
                    503);
  }
  absl::StatusOr<std::shared_ptr<AgentConnection>> agent = agents_->Get(host);
  if (!agent.ok()) return SendResult(response, agent.status());
  auto stream = std::make_shared<JobEventStream>(*agent, job_id, offset, &stopping_);
  response.set_header("Cache-Control", "no-store");
  response.set_chunked_content_provider(
      "text/event-stream", [stream, slot](size_t, httplib::DataSink& sink) {
        std::optional<std::string> text = stream->Next(kKeepAlive);
        if (!text) {
          sink.done();
          return true;
        }
        return sink.write(text->data(), text->size());
      });
}

void DashboardServer::ServeLogDownload(const httplib::Request& request,
                                       httplib::Response& response) {
  std::string host, job_id;
  if (!JobParams(request, response, &host, &job_id)) return;
  // An unknown job is a 404, not an empty file.
  if (absl::StatusOr<json> job = data_->Job(host, job_id); !job.ok()) {
    return SendResult(response, job);
  }
  absl::StatusOr<std::shared_ptr<AgentConnection>> agent = agents_->Get(host);
  if (!agent.ok()) return SendResult(response, agent.status());
  struct Download {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReader<mlcube_remote::v1::JobEvent>> reader;
  };
  auto download = std::make_shared<Download>();
  mlcube_remote::v1::WatchJobRequest watch;
  watch.set_job_id(job_id);
  watch.set_follow(false);
  download->reader = (*agent)->jobs().WatchJob(&download->context, watch);
  response.set_header("Content-Disposition",
                      absl::StrCat("attachment; filename=\"job-", FileNamePart(host), "-",
                                   FileNamePart(job_id), ".log\""));
  response.set_chunked_content_provider(
      kLogDownloadType,
      [download, this](size_t, httplib::DataSink& sink) {
        mlcube_remote::v1::JobEvent event;
        while (!stopping_ && download->reader->Read(&event)) {
          if (!event.has_log()) continue;
          return sink.write(event.log().data().data(), event.log().data().size());
        }
        sink.done();
        return true;
      },
      [download](bool) {
        download->context.TryCancel();
        download->reader->Finish();
      });
}

}  // namespace mlcube
