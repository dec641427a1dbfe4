#ifndef MLCUBE_REMOTE_CONTROLLER_SWEEPS_SWEEP_RUNNER_H_
#define MLCUBE_REMOTE_CONTROLLER_SWEEPS_SWEEP_RUNNER_H_

// Drives the runs of a sweep on one agent or several: submits each run as
// its own job, at most `parallel` at a time (the rest wait here, in run
// order; on one host that takes batches, all in one call, the agent then
// holding them back), follows their states, pulls each run's outputs as it ends, reads
// its metrics and keeps runs/SWEEP/sweep.yaml current after every change.
// It reaches each agent only through its lane's hooks, so the command
// decides transport, retries and pulls.
//
// Several hosts (lanes): a run goes to a host only when that host has room
// (HostDispatcher: its capacity, and every run it was given has started),
// so unstarted work waits here and flows to whichever host frees a slot. A
// host whose queries keep failing for `host_grace` is dropped: its runs are
// marked LOST ("host X unreachable: ..."), never re-run (their jobs may
// still be going there; `runs --refresh` asks again later), and the runs
// not yet submitted go to the other hosts. A submission the host did not
// take because it was unreachable (UNAVAILABLE) drops the host the same way
// and the run goes elsewhere; one it never answered (DEADLINE_EXCEEDED)
// drops it too, with that run LOST, since the host may have taken it.
//
// Output: one status line per run. On a terminal the block of lines is
// redrawn in place, each running run with its last log line (control
// characters escaped); otherwise a plain line is printed at each state
// change.
// An interrupt detaches: the runs not yet submitted are submitted, the
// record is saved, the jobs go on; a second one within a few seconds
// cancels every run instead.

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "controller/sweeps/host_dispatcher.h"
#include "controller/sweeps/run_inputs.h"
#include "controller/sweeps/sweep_record.h"
#include "controller/terminal/console.h"
#include "mlcube_remote/v1/jobs.pb.h"

namespace mlcube {

struct SweepHooks {
  // Submits one run whose plan is `plan`; the job as accepted.
  std::function<absl::StatusOr<mlcube_remote::v1::Job>(const RunRecord& run, const RunPlan& plan)>
      submit;
  // Optional: submits every run in one call, the agent running at most
  // `parallel` of them at once (so a detached sweep keeps its cap); the jobs
  // in run order. UNIMPLEMENTED (an older agent): `submit` one at a time.
  std::function<absl::StatusOr<std::vector<mlcube_remote::v1::Job>>(
      const std::vector<RunRecord>& runs, const std::vector<RunPlan>& plans, int parallel)>
      submit_all;
  std::function<absl::StatusOr<mlcube_remote::v1::Job>(const std::string& job_id)> get;
  // Brings a finished run's outputs back (may be empty: --no-pull).
  std::function<absl::Status(const RunRecord& run, const RunPlan& plan)> pull;
  // True once the user asked to detach (Ctrl-C).
  std::function<bool()> interrupted;
  // Optional: after an interrupt, true when the user confirms cancelling
  // (a second Ctrl-C within a few seconds); then every run is cancelled.
  std::function<bool()> confirm_cancel;
  std::function<absl::StatusOr<mlcube_remote::v1::Job>(const std::string& job_id)> cancel;
  // Optional, used on a terminal: the job's log from *offset to its current
  // end (advancing *offset); returns the last non-empty line in it, or "".
  std::function<absl::StatusOr<std::string>(const std::string& job_id, int64_t* offset)> tail;
};

// One host of a sweep. `host` goes into each run's record (empty: keep
// what the record says); `capacity` is HostDispatcher's (0: no limit of its
// own). The interrupt hooks are taken from the first lane.
struct SweepLane {
  std::string host;
  SweepHooks hooks;
  int capacity = 0;
};

struct SweepRunnerOptions {
  int parallel = 1;
  bool detach = false;       // submit everything and return
  bool interactive = false;  // redraw status lines in place
  std::string workspace;     // absolute, for the record and metrics files
  std::chrono::milliseconds poll{300};
  // How long a host may fail every query before its runs are LOST.
  std::chrono::milliseconds host_grace{10000};
};

// kNotSubmitted: the agent refused a submission; later runs were not sent.
// kAgentError: every host was lost (their runs LOST, the rest not sent).
// kOutputsMissing: every run succeeded, but the outputs of some did not
// arrive (the pull failed: agent disk full, connection lost); they stay on
// the agent, and the summary says how to fetch them.
enum class SweepEnd {
  kAllSucceeded,
  kOutputsMissing,
  kSomeFailed,
  kDetached,
  kCancelled,
  kAgentError,
  kNotSubmitted
};

class SweepRunner {
 public:
  SweepRunner(SweepHooks hooks, SweepRunnerOptions options, const Console* console,
              std::FILE* status_stream);
  SweepRunner(std::vector<SweepLane> lanes, SweepRunnerOptions options, const Console* console,
              std::FILE* status_stream);

  // `plans[i]` belongs to `record->runs[i]`. Returns how the sweep ended;
  // the summary (failed runs named) has been printed.
  SweepEnd Run(SweepRecord* record, const std::vector<RunPlan>& plans);

 private:
  // kHostLost: the host was unreachable and did not take the run (it goes
  // elsewhere); kLost: the host never answered, the run is LOST with it.
  enum class Submission { kAccepted, kRefused, kHostLost, kLost };
  // Submits pending runs while a lane has room (any live lane when
  // detaching); true when it tried at least one.
  bool SubmitPending(SweepRecord* record, const std::vector<RunPlan>& plans, bool detaching,
                     size_t parallel, std::vector<size_t>* active);
  Submission Submit(SweepRecord* record, size_t index, const RunPlan& plan, int lane,
                    std::vector<size_t>* active);
  // Through the one lane's hooks.submit_all: false when the agent lacks it
  // (nothing sent).
  bool SubmitAll(SweepRecord* record, const std::vector<RunPlan>& plans, size_t total,
                 std::vector<size_t>* active);
  // Tells the user how to cancel and waits for their answer.
  bool ConfirmCancel();
  // Asks for every active run's state once; drops hosts that stay silent.
  void Poll(SweepRecord* record, const std::vector<RunPlan>& plans, std::vector<size_t>* active);
  // Drops `lane`: its runs become LOST and leave `active`.
  void LoseHost(SweepRecord* record, int lane, const std::string& message,
                std::vector<size_t>* active);
  // Every host is gone: the runs never sent stay PENDING, with a reason.
  SweepEnd Abandon(SweepRecord* record);
  // Cancels the runs in `active`; the pending ones were never sent.
  void CancelAll(SweepRecord* record, const std::vector<size_t>& active);
  void Finish(SweepRecord* record, size_t index, const RunPlan& plan);
  void Update(RunRecord* run, const mlcube_remote::v1::Job& job);
  void Save(const SweepRecord& record);
  void Show(const SweepRecord& record, size_t changed);
  std::string StatusLine(const RunRecord& run, size_t index) const;
  void FollowTail(const RunRecord& run, size_t index);
  SweepEnd Summarize(const SweepRecord& record);

  const SweepHooks& HooksOf(size_t run_index) const { return lanes_[lane_of_.at(run_index)].hooks; }

  std::vector<SweepLane> lanes_;
  SweepRunnerOptions options_;
  HostDispatcher dispatcher_;
  std::map<size_t, int> lane_of_;  // run index -> lane, once submitted
  std::deque<size_t> pending_;     // run indices not yet submitted, in order
  const Console* console_;
  std::FILE* status_stream_;
  int lines_drawn_ = 0;
  bool save_failed_ = false;
  bool submit_refused_ = false;
  // Runs whose outputs a pull did not bring back, with their hosts.
  std::vector<std::pair<std::string, std::string>> unpulled_;
  struct Tail {
    int64_t offset = 0;
    std::string last_line;
  };
  std::map<size_t, Tail> tails_;  // by run index, on a terminal only
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_SWEEPS_SWEEP_RUNNER_H_
