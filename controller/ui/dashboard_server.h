#ifndef MLCUBE_REMOTE_CONTROLLER_UI_DASHBOARD_SERVER_H_
#define MLCUBE_REMOTE_CONTROLLER_UI_DASHBOARD_SERVER_H_

// The dashboard's web server, on 127.0.0.1 only. Every request passes the
// DashboardAccess gate first: the Host allow-list, then the session cookie
// (or the token exchange, which sets it and hands the page the request token
// in the redirect's fragment), then for /api/ the request token
// (X-CSRF-Token, or ?csrf= for events and the log download); then:
//   GET  /, /assets/...            the page (web_assets.h)
//   GET  /api/session              {"version", "cube": {"root", "cube_id"}}
//   GET  /api/hosts                DashboardData::Hosts
//   GET  /api/jobs[?all=1]         DashboardData::Jobs
//   GET  /api/job?host=H&id=J      DashboardData::Job
//   GET  /api/events?host=H&id=J   the job's log and states as server-sent
//                                  events (JobEventStream), resuming at
//                                  Last-Event-ID or ?from=OFFSET
//   GET  /api/log?host=H&id=J      the whole log as a text download
//   POST /api/cancel?host=H&id=J   DashboardData::Cancel
//   POST /api/rerun?host=H&id=J    DashboardData::Rerun
//   POST /api/rerun-failed?sweep=S DashboardData::RerunFailedRuns
//   POST /api/pull?host=H&id=J     DashboardData::PullOutputs
//   GET  /api/sweeps               DashboardData::Sweeps
//   GET  /api/curves?sweep=S       DashboardData::Curves
// Errors are {"error": "one line"} with a status that fits (400, 404, 502).

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "controller/ui/agent_pool.h"
#include "controller/ui/dashboard_access.h"
#include "controller/ui/dashboard_data.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace mlcube {

class DashboardServer {
 public:
  // Binds 127.0.0.1:`port` (0: a free port the system picks); UNAVAILABLE
  // naming the port when it is taken. `agents` and `data` outlive it.
  static absl::StatusOr<std::unique_ptr<DashboardServer>> Bind(int port, AgentPool* agents,
                                                               DashboardData* data);
  ~DashboardServer();

  const DashboardAccess& access() const { return access_; }
  // "http://127.0.0.1:PORT/?token=TOKEN": what the user opens.
  std::string Url() const;

  // Serves requests until Stop; returns then.
  void Serve();
  // From any thread: open event streams end within a fraction of a second.
  void Stop();

 private:
  DashboardServer(std::unique_ptr<httplib::Server> server, DashboardAccess access,
                  AgentPool* agents, DashboardData* data);
  void AddRoutes();
  // The gate: true when the request may go on to its route.
  bool Admit(const httplib::Request& request, httplib::Response& response) const;
  void ServeEvents(const httplib::Request& request, httplib::Response& response);
  void ServeLogDownload(const httplib::Request& request, httplib::Response& response);

  std::unique_ptr<httplib::Server> server_;
  const DashboardAccess access_;
  AgentPool* agents_;
  DashboardData* data_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> open_event_streams_{0};
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_UI_DASHBOARD_SERVER_H_
