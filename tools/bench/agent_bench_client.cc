// Benchmark client for tools/bench/agent_bench.sh. Talks to a running agent
// over its unix socket and prints one result line per measurement.
//
//   agent_bench_client SOCKET latency CUBE FIFO N   log line latency task -> client
//   agent_bench_client SOCKET flood CUBE            100 MB of output through a watch
//   agent_bench_client SOCKET flood-unwatched CUBE  the same, nobody watching
//   agent_bench_client SOCKET noop CUBE N           launch a no-op task N times
//
// The cube's `bench` task runs bench.sh with MODE from the job's env.

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mlcube_remote/v1/jobs.grpc.pb.h"

namespace v1 = mlcube_remote::v1;
using Clock = std::chrono::steady_clock;

namespace {

bool IsFinal(v1::JobState s) {
  return s == v1::JOB_STATE_SUCCEEDED || s == v1::JOB_STATE_FAILED || s == v1::JOB_STATE_CANCELLED;
}

std::string Submit(v1::Jobs::Stub& stub, const std::string& cube, const std::string& mode,
                   v1::Runtime runtime = v1::RUNTIME_DOCKER) {
  v1::SubmitJobRequest request;
  request.set_runtime(runtime);
  request.set_cube_id(cube);
  request.set_action(v1::JOB_ACTION_RUN);
  request.add_tasks("bench");
  (*request.mutable_env())["MODE"] = mode;
  grpc::ClientContext ctx;
  v1::Job job;
  grpc::Status s = stub.SubmitJob(&ctx, request, &job);
  if (!s.ok()) {
    std::cerr << "submit: " << s.error_message() << "\n";
    exit(1);
  }
  return job.id();
}

// Follows a job to its end; calls on_data for stdout and returns the final
// state.
v1::StateChange Follow(v1::Jobs::Stub& stub, const std::string& id,
                       const std::function<void(const std::string&)>& on_data,
                       const std::function<void(v1::JobState)>& on_state = nullptr) {
  grpc::ClientContext ctx;
  v1::WatchJobRequest request;
  request.set_job_id(id);
  request.set_follow(true);
  auto reader = stub.WatchJob(&ctx, request);
  v1::JobEvent event;
  v1::StateChange last;
  while (reader->Read(&event)) {
    if (event.has_log() && event.log().stream() == v1::LOG_STREAM_STDOUT) {
      on_data(event.log().data());
    } else if (event.has_state()) {
      last = event.state();
      if (on_state) on_state(last.state());
    }
  }
  reader->Finish();
  return last;
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5))];
}

int Latency(v1::Jobs::Stub& stub, const std::string& cube, const std::string& fifo, int n) {
  const std::string id = Submit(stub, cube, "latency");
  std::mutex mu;
  std::condition_variable cv;
  std::map<int, Clock::time_point> arrived;
  bool running = false;
  std::string pending;
  std::thread watcher([&] {
    Follow(
        stub, id,
        [&](const std::string& data) {
          const auto now = Clock::now();
          std::lock_guard<std::mutex> lock(mu);
          pending += data;
          size_t nl;
          while ((nl = pending.find('\n')) != std::string::npos) {
            arrived[std::atoi(pending.substr(0, nl).c_str())] = now;
            pending.erase(0, nl + 1);
          }
          cv.notify_all();
        },
        [&](v1::JobState s) {
          std::lock_guard<std::mutex> lock(mu);
          if (s == v1::JOB_STATE_RUNNING || IsFinal(s)) running = true;
          cv.notify_all();
        });
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return running; });
  }
  int fd = open(fifo.c_str(), O_WRONLY);  // blocks until the task opens it
  if (fd < 0) {
    perror("open fifo");
    return 1;
  }
  std::vector<double> ms;
  for (int i = 1; i <= n; ++i) {
    const std::string line = std::to_string(i) + "\n";
    const auto sent = Clock::now();
    if (write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) return 1;
    std::unique_lock<std::mutex> lock(mu);
    if (!cv.wait_for(lock, std::chrono::seconds(5), [&] { return arrived.count(i) > 0; })) {
      std::cerr << "line " << i << " never arrived\n";
      return 1;
    }
    ms.push_back(std::chrono::duration<double, std::milli>(arrived[i] - sent).count());
    lock.unlock();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  close(fd);
  watcher.join();
  printf("latency_ms n=%d p50=%.2f p99=%.2f max=%.2f\n", n, Percentile(ms, 0.5),
         Percentile(ms, 0.99), Percentile(ms, 1.0));
  return 0;
}

int Flood(v1::Jobs::Stub& stub, const std::string& cube) {
  const auto start = Clock::now();
  const std::string id = Submit(stub, cube, "flood");
  int64_t bytes = 0;
  v1::StateChange last = Follow(stub, id, [&](const std::string& d) { bytes += d.size(); });
  const double s = std::chrono::duration<double>(Clock::now() - start).count();
  printf("flood seconds=%.3f stdout_bytes=%lld state=%s\n", s, static_cast<long long>(bytes),
         v1::JobState_Name(last.state()).c_str());
  return 0;
}

// The same job with nobody watching: polls GetJob until the end.
int FloodUnwatched(v1::Jobs::Stub& stub, const std::string& cube) {
  const auto start = Clock::now();
  const std::string id = Submit(stub, cube, "flood");
  v1::Job job;
  do {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    grpc::ClientContext ctx;
    v1::GetJobRequest request;
    request.set_job_id(id);
    if (!stub.GetJob(&ctx, request, &job).ok()) return 1;
  } while (!IsFinal(job.state()));
  const double s = std::chrono::duration<double>(Clock::now() - start).count();
  printf("flood_unwatched seconds=%.3f log_bytes=%lld state=%s\n", s,
         static_cast<long long>(job.log_end_offset()), v1::JobState_Name(job.state()).c_str());
  return 0;
}

int Noop(v1::Jobs::Stub& stub, const std::string& cube, int n, v1::Runtime runtime) {
  std::vector<double> ms;
  for (int i = 0; i < n; ++i) {
    const auto start = Clock::now();
    const std::string id = Submit(stub, cube, "noop", runtime);
    v1::StateChange last = Follow(stub, id, [](const std::string&) {});
    if (last.state() != v1::JOB_STATE_SUCCEEDED) {
      std::cerr << "noop job ended " << v1::JobState_Name(last.state()) << "\n";
      return 1;
    }
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  printf("noop_ms n=%d p50=%.1f min=%.1f max=%.1f\n", n, Percentile(ms, 0.5), Percentile(ms, 0),
         Percentile(ms, 1.0));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: agent_bench_client SOCKET latency CUBE FIFO N | flood CUBE | noop CUBE N "
                 "[docker|podman]\n";
    return 2;
  }
  auto channel =
      grpc::CreateChannel(std::string("unix://") + argv[1], grpc::InsecureChannelCredentials());
  auto stub = v1::Jobs::NewStub(channel);
  const std::string mode = argv[2];
  if (mode == "latency" && argc == 6) return Latency(*stub, argv[3], argv[4], std::atoi(argv[5]));
  if (mode == "flood") return Flood(*stub, argv[3]);
  if (mode == "flood-unwatched") return FloodUnwatched(*stub, argv[3]);
  if (mode == "noop" && (argc == 5 || argc == 6)) {
    const bool podman = argc == 6 && std::string(argv[5]) == "podman";
    return Noop(*stub, argv[3], std::atoi(argv[4]),
                podman ? v1::RUNTIME_PODMAN : v1::RUNTIME_DOCKER);
  }
  std::cerr << "bad arguments\n";
  return 2;
}
