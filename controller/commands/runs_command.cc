#include "controller/commands/runs_command.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <map>
#include <memory>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/file_util.h"
#include "controller/hosts/hosts_file.h"
#include "controller/install/agent_connector.h"
#include "controller/remote/sweep_rerun.h"
#include "controller/sweeps/curve_plot.h"
#include "controller/sweeps/live_metrics.h"
#include "controller/sweeps/metrics_reader.h"
#include "controller/sweeps/runs_table.h"
#include "controller/sweeps/sweep_record.h"
#include "controller/sweeps/sweep_runner.h"
#include "controller/terminal/exit_codes.h"
#include "controller/transport/agent_connection.h"

namespace mlcube {
namespace {

absl::StatusOr<std::string> Workspace(const CubeOptions& options) {
  absl::StatusOr<Cube> cube = LoadCube(ToLoadOptions(options));
  if (!cube.ok()) return cube.status();
  return cube->workspace;
}

absl::StatusOr<std::vector<SweepRecord>> LoadSweeps(const std::string& workspace,
                                                    const std::string& sweep,
                                                    const Console& console) {
  if (!sweep.empty()) {
    absl::StatusOr<SweepRecord> record = SweepRecord::LoadById(workspace, sweep);
    if (!record.ok()) return record.status();
    return std::vector<SweepRecord>{std::move(*record)};
  }
  std::vector<std::string> errors;
  std::vector<SweepRecord> records = SweepRecord::LoadAll(workspace, &errors);
  for (const std::string& error : errors) console.Warning(error);
  return records;
}

// Updates the unfinished runs of `sweeps` from their hosts' agents (state,
// and the live tail of their metrics files) and saves each record that
// changed. A host that cannot be reached is one warning.
void Refresh(const HostsLookup& hosts_lookup, const std::string& workspace,
             std::vector<SweepRecord>* sweeps, const Console& console) {
  std::map<std::string, std::unique_ptr<AgentConnection>> agents;
  std::set<std::string> unreachable;
  for (SweepRecord& sweep : *sweeps) {
    bool changed = false;
    for (RunRecord& run : sweep.runs) {
      if (run.finished() || run.job_id.empty() || unreachable.count(run.host) != 0) continue;
      std::unique_ptr<AgentConnection>& agent = agents[run.host];
      if (!agent) {
        HostsFile hosts;
        absl::StatusOr<HostEntry> host = LoadHost(hosts_lookup, run.host, &hosts);
        absl::StatusOr<std::unique_ptr<AgentConnection>> opened =
            host.ok() ? ConnectToAgent(*host)
                      : absl::StatusOr<std::unique_ptr<AgentConnection>>(host.status());
        if (!opened.ok()) {
          console.Warning(absl::StrCat("--refresh: ", run.host, ": ", opened.status().message()));
          unreachable.insert(run.host);
          continue;
        }
        agent = std::move(*opened);
      }
      mlcube_remote::v1::GetJobRequest request;
      request.set_job_id(run.job_id);
      mlcube_remote::v1::Job job;
      auto context = AgentConnection::Context(std::chrono::seconds(10));
      grpc::Status status = agent->jobs().GetJob(context.get(), request, &job);
      if (!status.ok()) {
        console.Warning(
            absl::StrCat("--refresh: run ", sweep.id, "/", run.id, ": ", status.error_message()));
        continue;
      }
      std::string metrics_error;
      ApplyJobToRun(job, &run, &metrics_error);
      if (!metrics_error.empty()) {
        console.Verbose(absl::StrCat("run ", sweep.id, "/", run.id, ": metrics: ", metrics_error));
      }
      changed = true;
    }
    if (!changed) continue;
    if (absl::Status saved = sweep.Save(SweepRecord::PathFor(workspace, sweep.id)); !saved.ok()) {
      console.Warning(saved.message());
    }
  }
}

// Under the text table: what ~VALUE means, and how to read them again.
void NoteLiveValues(const std::vector<SweepRecord>& sweeps, const RunsCommandOptions& options,
                    const Console& console) {
  for (const SweepRecord& sweep : sweeps) {
    for (const RunRecord& run : sweep.runs) {
      if (!run.metrics_live) continue;
      console.Info(absl::StrCat(
          "~VALUE: read from the agent while the run went on, not yet pulled",
          options.refresh ? "" : "; --refresh reads the latest values of unfinished runs"));
      return;
    }
  }
}

Curve CurveOf(const RunRecord& run, const std::vector<MetricsStep>& steps,
              const PlotCommandOptions& options) {
  Curve curve{run.Label(), {}};
  for (size_t i = 0; i < steps.size(); ++i) {
    auto y = steps[i].find(options.y);
    if (y == steps[i].end()) continue;
    auto x = steps[i].find(options.x);
    curve.points.emplace_back(x == steps[i].end() ? static_cast<double>(i) : x->second, y->second);
  }
  return curve;
}

// The axis label `x` names ("PARAM:key.path" or its last key), or "".
std::string AxisNamed(const SweepRecord& sweep, const std::string& x) {
  for (const std::string& axis : sweep.axes) {
    if (axis == x || axis.substr(axis.find_last_of(":.") + 1) == x) return axis;
  }
  return "";
}

// One point per run: the run's value on `axis` against its latest `metric`
// (e.g. accuracy against lr), in order of the value.
Curve MetricByAxis(const SweepRecord& sweep, const std::string& axis, const std::string& metric) {
  Curve curve{metric, {}};
  for (const RunRecord& run : sweep.runs) {
    double x = 0, y = 0;
    auto value = std::find_if(run.values.begin(), run.values.end(),
                              [&](const auto& entry) { return entry.first == axis; });
    auto found = run.metrics.find(metric);
    if (value == run.values.end() || found == run.metrics.end() ||
        !absl::SimpleAtod(value->second, &x) || !absl::SimpleAtod(found->second, &y)) {
      continue;
    }
    curve.points.emplace_back(x, y);
  }
  std::sort(curve.points.begin(), curve.points.end());
  return curve;
}

}  // namespace

CLI::App* AddRunsCommand(CLI::App* app, RunsCommandOptions* options) {
  CLI::App* runs = app->add_subcommand(
      "runs", "Table of a cube's sweep runs: values, host, state, duration, exit code, metrics");
  AddCubeOptions(runs, &options->cube);
  runs->add_option("SWEEP", options->sweep, "Sweep id (default: every sweep)");
  runs->add_option("--host", options->host, "Only runs on this host");
  runs->add_flag("--refresh", options->refresh,
                 "Ask the hosts for the state of unfinished runs (after --detach) first");
  runs->add_flag("--rerun-failed", options->rerun_failed,
                 "Run SWEEP's failed and cancelled runs again on their hosts (once none is "
                 "unfinished)");
  runs->add_option("--state", options->state, "Only runs in this state (e.g. failed)");
  runs->add_option("--sort", options->sort, "Sort by a column; -COLUMN sorts descending");
  CLI::Option* json = runs->add_flag("--json", options->json, "JSON array, one object per run");
  runs->add_flag("--csv", options->csv, "CSV with a header row")->excludes(json);
  return runs;
}

CLI::App* AddPlotCommand(CLI::App* app, PlotCommandOptions* options) {
  CLI::App* plot = app->add_subcommand(
      "plot", "Plot a metric of every run of a sweep, one curve per run (gnuplot)");
  AddCubeOptions(plot, &options->cube);
  plot->add_option("SWEEP", options->sweep, "Sweep id")->required();
  plot->add_option("--y", options->y, "Metric on the y axis (e.g. loss)")->required();
  plot->add_option("--x", options->x,
                   "Metric on the x axis (default step, else the line number), or a swept axis "
                   "(e.g. lr): then one point per run from its latest metrics");
  plot->add_option("-o,--output", options->output, "Write a .png or .svg instead of a text chart");
  plot->add_option("--metrics", options->metrics,
                   "Metrics file inside each run (default: the sweep's --metrics)");
  return plot;
}

namespace {

// --rerun-failed: SWEEP's failed runs again; the exit status (kExitOk when
// some run was re-run).
int RerunFailed(const RunsCommandOptions& options, const std::string& workspace,
                const Console& console) {
  if (options.sweep.empty()) {
    console.Error("--rerun-failed: name the sweep (mlcube-remote runs SWEEP --rerun-failed)");
    return kExitBadInput;
  }
  AgentForHost agent_for =
      [&](const std::string& host) -> absl::StatusOr<std::shared_ptr<AgentConnection>> {
    absl::StatusOr<HostEntry> entry = LoadHost(options.hosts_lookup, host);
    if (!entry.ok()) return entry.status();
    absl::StatusOr<std::unique_ptr<AgentConnection>> opened = ConnectToAgent(*entry);
    if (!opened.ok()) return opened.status();
    return std::shared_ptr<AgentConnection>(std::move(*opened));
  };
  absl::StatusOr<SweepRerunOutcome> outcome = RerunFailedRuns(workspace, options.sweep, agent_for);
  if (!outcome.ok()) {
    console.Error(outcome.status().message());
    return outcome.status().code() == absl::StatusCode::kUnavailable ? kExitAgentError
                                                                     : kExitBadInput;
  }
  for (const std::string& line : outcome->rerun) console.Info(absl::StrCat("re-run ", line));
  for (const std::string& line : outcome->errors) console.Warning(line);
  return outcome->rerun.empty() ? kExitAgentError : kExitOk;
}

}  // namespace

int RunRunsCommand(const RunsCommandOptions& options, const Console& console, std::ostream& out) {
  absl::StatusOr<std::string> workspace = Workspace(options.cube);
  if (!workspace.ok()) {
    console.Error(workspace.status().message());
    return kExitBadInput;
  }
  if (options.rerun_failed) {
    if (int rerun = RerunFailed(options, *workspace, console); rerun != kExitOk) return rerun;
  }
  absl::StatusOr<std::vector<SweepRecord>> sweeps = LoadSweeps(*workspace, options.sweep, console);
  if (!sweeps.ok()) {
    console.Error(sweeps.status().message());
    return kExitBadInput;
  }
  if (options.refresh) Refresh(options.hosts_lookup, *workspace, &*sweeps, console);
  RunsTableOptions table_options;
  table_options.host = options.host;
  table_options.state = options.state;
  table_options.sort = options.sort;
  absl::StatusOr<RunsTable> table = RunsTable::Build(*sweeps, table_options, NowUnixMs());
  if (!table.ok()) {
    console.Error(table.status().message());
    return kExitBadInput;
  }
  if (options.json) {
    out << table->RenderJson();
  } else if (options.csv) {
    out << table->RenderCsv();
  } else if (table->rows().empty()) {
    console.Info(absl::StrCat("no runs in ", *workspace, "/runs"));
  } else {
    out << table->RenderText();
    NoteLiveValues(*sweeps, options, console);
  }
  return kExitOk;
}

int RunPlotCommand(const PlotCommandOptions& options, const Console& console, std::ostream& out) {
  absl::StatusOr<std::string> workspace = Workspace(options.cube);
  absl::StatusOr<std::vector<SweepRecord>> sweeps =
      workspace.ok() ? LoadSweeps(*workspace, options.sweep, console)
                     : absl::StatusOr<std::vector<SweepRecord>>(workspace.status());
  if (!sweeps.ok()) {
    console.Error(sweeps.status().message());
    return kExitBadInput;
  }
  const SweepRecord& sweep = sweeps->front();
  PlotRequest request;
  request.title = absl::StrCat("sweep ", sweep.id, " (", sweep.cube, ")");
  request.x_label = options.x;
  request.y_label = options.y;
  request.output = options.output;
  const std::string axis = AxisNamed(sweep, options.x);
  if (!axis.empty()) {
    request.curves.push_back(MetricByAxis(sweep, axis, options.y));
  } else {
    const std::string metrics = options.metrics.empty() ? sweep.metrics_path : options.metrics;
    if (metrics.empty()) {
      console.Error(
          absl::StrCat("sweep ", sweep.id, " has no metrics file; name it with --metrics"));
      return kExitBadInput;
    }
    for (const RunRecord& run : sweep.runs) {
      const std::string path = absl::StrCat(*workspace, "/", run.run_dir, "/", metrics);
      absl::StatusOr<std::vector<MetricsStep>> steps = MetricsReader::ReadCurve(path);
      if (!steps.ok()) {
        console.Warning(absl::StrCat("run ", run.id, ": ", steps.status().message()));
        continue;
      }
      request.curves.push_back(CurveOf(run, *steps, options));
    }
  }
  absl::StatusOr<std::string> drawn = CurvePlot().Draw(request);
  if (!drawn.ok()) {
    console.Error(
        absl::StrCat("plot ", sweep.id, " --y=", options.y, ": ", drawn.status().message()));
    return drawn.status().code() == absl::StatusCode::kInternal ? kExitAgentError : kExitBadInput;
  }
  if (options.output.empty()) {
    out << *drawn;
  } else {
    console.Info(absl::StrCat("wrote ", options.output));
  }
  return kExitOk;
}

}  // namespace mlcube
