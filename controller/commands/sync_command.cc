#include "controller/commands/sync_command.h"

#include <stdlib.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/cube_loader.h"
#include "common/grpc_status.h"
#include "controller/hosts/hosts_file.h"
#include "controller/install/agent_connector.h"
#include "controller/remote/cube_push.h"
#include "controller/remote/job_output_pull.h"
#include "controller/sync/scan_cache.h"
#include "controller/sync/sync_client.h"
#include "controller/terminal/exit_codes.h"
#include "controller/terminal/progress_reporter.h"
#include "controller/transport/agent_connection.h"

namespace mlcube {

CLI::App* AddSyncCommand(CLI::App* app, SyncCommandOptions* options) {
  CLI::App* sync = app->add_subcommand("sync", "Move a cube's files to an agent and outputs back");
  sync->require_subcommand(1);
  auto common = [options](CLI::App* cmd) {
    AddCubeOptions(cmd, &options->cube);
    cmd->add_option("--host", options->host,
                    "Host from the hosts file (default: its default_host)");
    cmd->add_option("--agent", options->agent,
                    "Agent address (unix:///path or HOST:PORT) instead of a hosts-file host");
    cmd->add_option("--cube-id", options->cube_id,
                    "Cube id on the agent (default: DIRNAME-HASH8 of the cube path)");
    cmd->add_flag("--dry-run", options->dry_run, "Show what would move, move nothing");
  };
  CLI::App* push = sync->add_subcommand("push", "Send the cube (without container images)");
  common(push);
  push->add_flag("--no-prune", options->no_prune,
                 "Keep files on the agent that were deleted locally since the last push");
  push->add_flag("--timings", options->timings,
                 "Also print the wall time of each phase (scan, transfer, agent commit)");
  push->callback([options] { options->push = true; });
  CLI::App* pull = sync->add_subcommand("pull", "Fetch workspace files (outputs) from the agent");
  common(pull);
  pull->add_option("--path", options->paths, "Workspace-relative path to fetch (repeatable)");
  pull->add_option("--job", options->job_id, "Fetch the outputs of this job");
  pull->callback([options] { options->pull = true; });
  CLI::App* remove = sync->add_subcommand(
      "delete", "Remove the cube from the host: its files and workspace, outputs included");
  common(remove);
  remove->add_flag("--yes", options->yes, "Confirm: outputs not pulled yet are lost");
  remove->callback([options] { options->remove = true; });
  return sync;
}

namespace {

// What every sync subcommand works on: the host, the cube, the connection.
struct SyncTarget {
  HostsFile hosts;
  HostEntry host;
  Cube cube;
  std::unique_ptr<AgentConnection> connection;
  std::string cube_id;
};

// Loads the host and the cube, and connects to the host's agent.
absl::StatusOr<SyncTarget> OpenTarget(const SyncCommandOptions& options) {
  SyncTarget target;
  if (!options.agent.empty()) {
    target.host.name = "agent";
    target.host.address = options.agent;
    target.host.platform_defaults = YAML::Node(YAML::NodeType::Map);
  } else {
    absl::StatusOr<HostEntry> found = LoadHost(options.hosts_lookup, options.host, &target.hosts);
    if (!found.ok()) return found.status();
    target.host = *found;
  }
  CubeLoadOptions load = ToLoadOptions(options.cube);
  load.host_defaults = target.host.platform_defaults;
  absl::StatusOr<Cube> cube = LoadCube(load);
  if (!cube.ok()) return cube.status();
  target.cube = std::move(*cube);
  absl::StatusOr<std::unique_ptr<AgentConnection>> connection = ConnectToAgent(target.host);
  if (!connection.ok()) return connection.status();
  target.connection = std::move(*connection);
  target.cube_id =
      options.cube_id.empty() ? SyncClient::DefaultCubeId(target.cube.root) : options.cube_id;
  return target;
}

// Deletes one tree on the agent; the bytes it freed. Errors say "delete TREE: ...".
absl::StatusOr<int64_t> DeleteTree(AgentConnection& connection, const std::string& tree_id) {
  mlcube_remote::v1::DeleteCubeRequest request;
  request.set_cube_id(tree_id);
  mlcube_remote::v1::DeleteCubeResponse response;
  auto context = AgentConnection::Context(std::chrono::seconds(600));
  grpc::Status status = connection.workspaces().DeleteCube(context.get(), request, &response);
  if (!status.ok()) return FromGrpcStatus(status, absl::StrCat("delete ", tree_id));
  return response.bytes_freed();
}

int DeleteRemoteCube(const SyncCommandOptions& options, SyncTarget& target, const Console& console,
                     std::ostream& out) {
  const std::string what = absl::StrCat("cube ", target.cube_id, " on ", target.host.name, " (",
                                        target.connection->Describe(), ")");
  if (options.dry_run || !options.yes) {
    (options.dry_run
         ? console.Info(absl::StrCat("dry run: would delete ", what))
         : console.Error(absl::StrCat("sync delete removes ", what,
                                      ": its files and workspace, including outputs you have not "
                                      "pulled. Run again with --yes to go ahead")));
    return options.dry_run ? kExitOk : kExitBadInput;
  }
  absl::StatusOr<int64_t> freed = DeleteTree(*target.connection, target.cube_id);
  if (!freed.ok()) {
    console.Error(absl::StrCat("sync delete of ", what, " failed: ", freed.status().message()));
    return absl::IsNotFound(freed.status()) || absl::IsFailedPrecondition(freed.status())
               ? kExitBadInput
               : kExitAgentError;
  }
  // The copy of a build context outside the cube that runs pushed goes too
  // (the next build pushes it again); none there is fine.
  const std::string context_id = OutsideBuildContextId(target.cube);
  if (!context_id.empty() && options.cube_id.empty()) {
    absl::StatusOr<int64_t> context_freed = DeleteTree(*target.connection, context_id);
    if (context_freed.ok()) {
      *freed += *context_freed;
    } else if (!absl::IsNotFound(context_freed.status())) {
      console.Warning(absl::StrCat("the copy of the build context ",
                                   target.cube.docker.build_context, " stays on ", target.host.name,
                                   ": ", context_freed.status().message()));
    }
  }
  out << absl::StrFormat("deleted %s, %s freed\n", what, ProgressReporter::HumanBytes(*freed));
  return kExitOk;
}

int PushCubeTo(const SyncCommandOptions& options, SyncTarget& target, SyncClient& client,
               const Console& console, std::ostream& out, const std::function<double()>& seconds) {
  CubePushRequest push;
  push.cube = &target.cube;
  push.cube_id = target.cube_id;
  push.exclude = target.hosts.exclude;
  push.dry_run = options.dry_run;
  push.prune = !options.no_prune;
  push.sync_features = options.sync_features;
  absl::StatusOr<PushStats> stats = PushCube(client, push, console);
  if (!stats.ok()) {
    console.Error(absl::StrCat("sync push to ", target.connection->Describe(), ": ",
                               stats.status().message()));
    return stats.status().code() == absl::StatusCode::kInvalidArgument ? kExitBadInput
                                                                       : kExitAgentError;
  }
  out << absl::StrFormat(
      "%s %s: %d files scanned (%s), %d files / %s %s (%d bytes), %s deduplicated%s, %.3f s\n",
      options.dry_run ? "dry run: push" : "push", target.cube_id, stats->files_scanned,
      ProgressReporter::HumanBytes(stats->bytes_scanned), stats->files_sent,
      ProgressReporter::HumanBytes(stats->bytes_sent), options.dry_run ? "would be sent" : "sent",
      stats->bytes_sent, ProgressReporter::HumanBytes(stats->bytes_deduplicated),
      stats->up_to_date ? ", already up to date" : "", seconds());
  if (options.timings) {
    out << absl::StrFormat("  scan %.3f s, transfer %.3f s, commit %.3f s\n", stats->scan_seconds,
                           stats->transfer_seconds, stats->commit_seconds);
  }
  return kExitOk;
}

int PullOutputs(const SyncCommandOptions& options, SyncTarget& target, SyncClient& client,
                const Console& console, std::ostream& out, const std::function<double()>& seconds) {
  PullOptions pull;
  pull.cube_root = target.cube.root;
  pull.workspace = target.cube.workspace;
  pull.cube_id = target.cube_id;
  pull.paths = options.paths;
  pull.job_id = options.job_id;
  if (!options.job_id.empty()) {
    absl::StatusOr<std::vector<std::string>> outputs =
        JobOutputPaths(*target.connection, target.cube, target.cube_id, options.job_id);
    if (!outputs.ok()) {
      console.Error(absl::StrCat("sync pull: ", outputs.status().message()));
      return kExitAgentError;
    }
    pull.outputs = *std::move(outputs);
  }
  pull.dry_run = options.dry_run;
  pull.show_progress = console.verbosity() != Verbosity::kQuiet;
  pull.interactive = isatty(STDERR_FILENO) != 0;
  absl::StatusOr<PullStats> stats = client.Pull(pull);
  if (!stats.ok()) {
    console.Error(absl::StrCat("sync pull: ", stats.status().message()));
    return stats.status().code() == absl::StatusCode::kInvalidArgument ? kExitBadInput
                                                                       : kExitAgentError;
  }
  for (const std::string& warning : stats->warnings) console.Warning(warning);
  for (const std::string& c : stats->conflicts) {
    console.Warning(absl::StrCat("kept your ", c, ": it changed since the last sync; the agent's ",
                                 "version is in ", c, ".remote"));
  }
  out << absl::StrFormat(
      "%s %s: %d files listed, %d files %s (%s, %d bytes), %d unchanged, "
      "%d conflicts, %.3f s\n",
      options.dry_run ? "dry run: pull" : "pull", target.cube_id, stats->files_listed,
      stats->files_written, options.dry_run ? "would be written" : "written",
      ProgressReporter::HumanBytes(stats->bytes_received), stats->bytes_received,
      stats->files_unchanged, stats->conflicts.size(), seconds());
  return kExitOk;
}

}  // namespace

int RunSyncCommand(const SyncCommandOptions& options, const Console& console, std::ostream& out) {
  const auto start = std::chrono::steady_clock::now();
  auto seconds = [start] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  absl::StatusOr<SyncTarget> target = OpenTarget(options);
  if (!target.ok()) {
    console.Error(target.status().message());
    return kExitBadInput;
  }
  if (options.remove) return DeleteRemoteCube(options, *target, console, out);
  ScanCache cache = ScanCache::Load(ScanCache::DefaultFileFor(target->cube.root));
  SyncClient client(target->connection->channel(), &cache);
  if (options.push) return PushCubeTo(options, *target, client, console, out, seconds);
  return PullOutputs(options, *target, client, console, out, seconds);
}

}  // namespace mlcube
