#include "controller/remote/host_probe.h"

#include <chrono>
#include <memory>

#include "absl/strings/str_cat.h"
#include "controller/install/agent_connector.h"
#include "controller/transport/agent_connection.h"

namespace mlcube {

namespace {

HostReport NewReport(const HostEntry& host) {
  HostReport report;
  report.name = host.name;
  report.address = host.has_ssh ? absl::StrCat("ssh://", host.ssh.host) : host.address;
  return report;
}

}  // namespace

HostReport ProbeHost(const HostEntry& host) {
  absl::StatusOr<std::unique_ptr<AgentConnection>> connection = ConnectToAgent(host);
  if (!connection.ok()) {
    HostReport report = NewReport(host);
    report.error = std::string(connection.status().message());
    return report;
  }
  return ProbeAgent(host, **connection);
}

HostReport ProbeAgent(const HostEntry& host, AgentConnection& connection) {
  HostReport report = NewReport(host);
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto context = AgentConnection::Context(std::chrono::milliseconds(attempt == 0 ? 5000 : 2000));
    const auto start = std::chrono::steady_clock::now();
    grpc::Status status = connection.agent().GetInfo(
        context.get(), mlcube_remote::v1::GetInfoRequest(), &report.info);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    if (!status.ok()) {
      report.error = status.error_message();
      return report;
    }
    report.round_trip_ms = std::chrono::duration<double, std::milli>(elapsed).count();
  }
  report.reachable = true;
  return report;
}

}  // namespace mlcube
