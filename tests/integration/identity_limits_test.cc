// Per-identity visibility of blobs and per-identity limits on one real agent
// shared by alice and bob over mutual TLS: what one uploads the other can
// neither discover nor read nor commit; each has its own quota of stored
// bytes, open streams, running and queued jobs.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "agent/runtimes/container_runtime.h"
#include "common/digest.h"
#include "mlcube_remote/v1/content_store.grpc.pb.h"
#include "mlcube_remote/v1/manifest.pb.h"
#include "mlcube_remote/v1/workspace.grpc.pb.h"
#include "tests/integration/two_identity_agent.h"
#include "tests/support/command_runner.h"
#include "tests/support/hello_cube.h"

namespace mlcube_test {
namespace {

namespace v1 = ::mlcube_remote::v1;
using ::mlcube::DigestOf;
using ::mlcube::testing::CommandResult;
using ::testing::HasSubstr;

constexpr char kLimits[] =
    "max_concurrent_jobs: 4\n"
    "limits: {running_jobs: 1, queued_jobs: 2, stored_bytes: 6M, open_streams: 2,\n"
    "         finished_jobs_kept: 3}\n";

class IdentityLimitsTest : public ::testing::Test {
 protected:
  IdentityLimitsTest() : agents_(kLimits) {}

  void SetUp() override { ASSERT_TRUE(agents_.Start()); }

  std::unique_ptr<v1::ContentStore::Stub> Store(const std::string& user) {
    return v1::ContentStore::NewStub(agents_.Channel(user));
  }

  grpc::Status Upload(const std::string& user, const std::string& data) {
    v1::BatchUploadBlobsRequest request;
    v1::BlobData* blob = request.add_blobs();
    *blob->mutable_digest() = DigestOf(data);
    blob->set_data(data);
    v1::BatchUploadBlobsResponse response;
    grpc::ClientContext ctx;
    grpc::Status s = Store(user)->BatchUploadBlobs(&ctx, request, &response);
    if (s.ok() && response.results(0).status().code() != 0) {
      return grpc::Status(grpc::StatusCode::INTERNAL, response.results(0).status().message());
    }
    return s;
  }

  bool Missing(const std::string& user, const v1::Digest& digest) {
    v1::FindMissingBlobsRequest request;
    *request.add_digests() = digest;
    v1::FindMissingBlobsResponse response;
    grpc::ClientContext ctx;
    EXPECT_TRUE(Store(user)->FindMissingBlobs(&ctx, request, &response).ok());
    return response.missing_size() == 1;
  }

  grpc::Status Read(const std::string& user, const v1::Digest& digest, std::string* data) {
    v1::ReadBlobRequest request;
    *request.mutable_digest() = digest;
    grpc::ClientContext ctx;
    auto reader = Store(user)->ReadBlob(&ctx, request);
    v1::ReadBlobChunk chunk;
    while (reader->Read(&chunk)) data->append(chunk.data());
    return reader->Finish();
  }

  grpc::Status Commit(const std::string& user, const std::string& cube,
                      const v1::Digest& manifest) {
    v1::CommitManifestRequest request;
    request.set_cube_id(cube);
    *request.mutable_manifest_digest() = manifest;
    v1::CommitManifestResponse response;
    grpc::ClientContext ctx;
    return v1::Workspaces::NewStub(agents_.Channel(user))->CommitManifest(&ctx, request, &response);
  }

  std::string CopyOfHello(const std::string& name) {
    const std::string cube = agents_.root() + "/" + name;
    EXPECT_TRUE(::mlcube::testing::CopyHelloCube(cube));
    return cube;
  }

  TwoIdentityAgent agents_;
};

TEST_F(IdentityLimitsTest, AnotherIdentitysBlobsCannotBeFoundReadOrCommitted) {
  const std::string secret = "alice's secret weights";
  const v1::Digest digest = DigestOf(secret);
  ASSERT_TRUE(Upload("alice", secret).ok());
  EXPECT_FALSE(Missing("alice", digest));
  // For bob the blob does not exist: no oracle for what others store.
  EXPECT_TRUE(Missing("bob", digest));
  std::string data;
  grpc::Status read = Read("bob", digest, &data);
  EXPECT_EQ(read.error_code(), grpc::StatusCode::NOT_FOUND) << read.error_message();
  EXPECT_EQ(data, "");
  {
    v1::BatchReadBlobsRequest request;
    *request.add_digests() = digest;
    v1::BatchReadBlobsResponse response;
    grpc::ClientContext ctx;
    ASSERT_TRUE(Store("bob")->BatchReadBlobs(&ctx, request, &response).ok());
    EXPECT_EQ(response.results(0).status().code(), static_cast<int>(grpc::StatusCode::NOT_FOUND));
    EXPECT_EQ(response.results(0).data(), "");
  }
  ASSERT_TRUE(Read("alice", digest, &data).ok());
  EXPECT_EQ(data, secret);

  // A manifest naming alice's blob: bob can commit neither alice's upload
  // of it nor his own.
  v1::Manifest manifest;
  v1::ManifestEntry* entry = manifest.add_entries();
  entry->set_path("weights.bin");
  entry->set_type(v1::ENTRY_TYPE_FILE);
  *entry->mutable_digest() = digest;
  entry->set_mode(0644);
  entry->set_mtime_ns(1000000000);
  const std::string manifest_bytes = manifest.SerializeAsString();
  const v1::Digest manifest_digest = DigestOf(manifest_bytes);
  ASSERT_TRUE(Upload("alice", manifest_bytes).ok());
  grpc::Status commit = Commit("bob", "stolen", manifest_digest);
  EXPECT_EQ(commit.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << commit.error_message();
  ASSERT_TRUE(Upload("bob", manifest_bytes).ok());
  commit = Commit("bob", "stolen", manifest_digest);
  EXPECT_EQ(commit.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << commit.error_message();
  EXPECT_THAT(commit.error_message(), HasSubstr("weights.bin"));
  struct stat st;
  EXPECT_NE(stat((agents_.agent().state_dir() + "/cubes/cn-bob/stolen/weights.bin").c_str(), &st),
            0);

  // Knowing the content is proof enough: bob uploads it and may use it.
  ASSERT_TRUE(Upload("bob", secret).ok());
  commit = Commit("bob", "own", manifest_digest);
  ASSERT_TRUE(commit.ok()) << commit.error_message();
  EXPECT_EQ(mlcube::testing::ReadFileContent(agents_.agent().state_dir() +
                                             "/cubes/cn-bob/own/weights.bin"),
            secret);
  ASSERT_TRUE(Commit("alice", "mine", manifest_digest).ok());
}

TEST_F(IdentityLimitsTest, PartialUploadsAreResumedOnlyByTheirUploader) {
  const std::string big(3 << 20, 'w');
  const v1::Digest digest = DigestOf(big);
  {
    v1::UploadBlobResponse response;
    grpc::ClientContext ctx;
    auto writer = Store("alice")->UploadBlob(&ctx, &response);
    v1::UploadChunk chunk;
    *chunk.mutable_digest() = digest;
    chunk.set_offset(0);
    chunk.set_data(big.substr(0, 1 << 20));
    ASSERT_TRUE(writer->Write(chunk));
    writer->WritesDone();
    ASSERT_TRUE(writer->Finish().ok());
    EXPECT_EQ(response.committed_size(), 1 << 20);
  }
  for (const char* user : {"alice", "bob"}) {
    v1::GetUploadStatusRequest request;
    *request.mutable_digest() = digest;
    v1::GetUploadStatusResponse response;
    grpc::ClientContext ctx;
    ASSERT_TRUE(Store(user)->GetUploadStatus(&ctx, request, &response).ok());
    EXPECT_EQ(response.committed_offset(), std::string(user) == "alice" ? 1 << 20 : 0) << user;
    EXPECT_FALSE(response.complete());
  }
}

TEST_F(IdentityLimitsTest, OpenStreamsAreCappedPerIdentity) {
  ASSERT_TRUE(Upload("alice", "readable").ok());
  ASSERT_TRUE(Upload("bob", "readable").ok());
  // alice holds two upload streams open (her limit)...
  struct OpenUpload {
    grpc::ClientContext ctx;
    v1::UploadBlobResponse response;
    std::unique_ptr<grpc::ClientWriter<v1::UploadChunk>> writer;
  };
  std::vector<std::unique_ptr<OpenUpload>> open;
  auto store = Store("alice");
  for (int i = 0; i < 2; ++i) {
    const std::string data(2 << 20, static_cast<char>('a' + i));
    auto upload = std::make_unique<OpenUpload>();
    upload->writer = store->UploadBlob(&upload->ctx, &upload->response);
    v1::UploadChunk chunk;
    *chunk.mutable_digest() = DigestOf(data);
    chunk.set_data(data.substr(0, 1000));
    ASSERT_TRUE(upload->writer->Write(chunk));
    // Wait until the agent holds the stream: its first chunk is stored.
    for (int tries = 0; tries < 100; ++tries) {
      v1::GetUploadStatusRequest request;
      *request.mutable_digest() = DigestOf(data);
      v1::GetUploadStatusResponse status;
      grpc::ClientContext ctx;
      if (store->GetUploadStatus(&ctx, request, &status).ok() && status.committed_offset() == 1000)
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    open.push_back(std::move(upload));
  }
  // ...so her third is refused, naming the limit; bob is not affected.
  std::string data;
  grpc::Status third = Read("alice", DigestOf("readable"), &data);
  EXPECT_EQ(third.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << third.error_message();
  EXPECT_THAT(third.error_message(), HasSubstr("limits.open_streams"));
  data.clear();
  ASSERT_TRUE(Read("bob", DigestOf("readable"), &data).ok());
  EXPECT_EQ(data, "readable");
  // Closing one frees a slot.
  open[0]->writer->WritesDone();
  EXPECT_TRUE(open[0]->writer->Finish().ok());
  data.clear();
  grpc::Status again = Read("alice", DigestOf("readable"), &data);
  EXPECT_TRUE(again.ok()) << again.error_message();
  open[1]->writer->WritesDone();
  EXPECT_TRUE(open[1]->writer->Finish().ok());
}

TEST_F(IdentityLimitsTest, StoredBytesAreCappedPerIdentity) {
  const std::string cube = CopyOfHello("hello");
  CommandResult push = agents_.As("alice", {"sync", "push", "--mlcube=" + cube});
  ASSERT_EQ(push.exit_code, 0) << push.err << agents_.agent().Stderr();
  // 5 MiB more would take alice past her 6 MiB.
  {
    std::ofstream big(cube + "/workspace/big.bin");
    big << std::string(5 << 20, 'x');
  }
  push = agents_.As("alice", {"sync", "push", "--mlcube=" + cube});
  EXPECT_NE(push.exit_code, 0) << push.out << push.err;
  EXPECT_THAT(push.err, HasSubstr("limits.stored_bytes"));
  std::string found;
  Shell("find " + agents_.agent().state_dir() + " -name big.bin", &found);
  EXPECT_EQ(found, "");
  // bob has a quota of his own.
  CommandResult bob = agents_.As("bob", {"sync", "push", "--mlcube=" + CopyOfHello("bobs")});
  EXPECT_EQ(bob.exit_code, 0) << bob.err;
}

TEST_F(IdentityLimitsTest, DeletingACubeFreesItsSpace) {
  const std::string first = CopyOfHello("first");
  const std::string second = CopyOfHello("second");
  const std::string third = CopyOfHello("third");
  {
    std::ofstream extra(third + "/workspace/extra.bin");
    extra << std::string(1 << 20, 'x');
  }
  ASSERT_EQ(agents_.As("alice", {"sync", "push", "--mlcube=" + first}).exit_code, 0);
  ASSERT_EQ(agents_.As("alice", {"sync", "push", "--mlcube=" + second}).exit_code, 0);
  // `hosts` tells each identity what it stores against its limit.
  CommandResult hosts = agents_.As("alice", {"hosts"});
  EXPECT_EQ(hosts.exit_code, 0) << hosts.err;
  EXPECT_THAT(hosts.out, testing::ContainsRegex("YOURS\n.* 3\\.[0-9] MiB of 6\\.0 MiB\n"));
  EXPECT_THAT(agents_.As("bob", {"hosts"}).out, HasSubstr(" 0 B of 6.0 MiB"));
  // 3 x 1.9 MiB + 1 MiB is over alice's 6 MiB.
  CommandResult over = agents_.As("alice", {"sync", "push", "--mlcube=" + third});
  EXPECT_NE(over.exit_code, 0);
  EXPECT_THAT(over.err, HasSubstr("limits.stored_bytes"));
  CommandResult deleted = agents_.As("alice", {"sync", "delete", "--yes", "--mlcube=" + first});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
  CommandResult fits = agents_.As("alice", {"sync", "push", "--mlcube=" + third});
  EXPECT_EQ(fits.exit_code, 0) << fits.err;
  // bob cannot delete alice's cube: under his identity it does not exist.
  CommandResult bob = agents_.As("bob", {"sync", "delete", "--yes", "--mlcube=" + second});
  EXPECT_EQ(bob.exit_code, 2);
  EXPECT_THAT(bob.err, HasSubstr("is not on this agent"));
}

// "job 1a2b3c4d on gpu: count (QUEUED)" -> "1a2b3c4d".
std::string JobIdIn(const CommandResult& run) {
  const std::string said = run.out + run.err;
  const size_t at = said.find("job ");
  if (at == std::string::npos) return "";
  return said.substr(at + 4, said.find(' ', at + 4) - at - 4);
}

class DockerIdentityTest : public IdentityLimitsTest {
 protected:
  void SetUp() override {
    ASSERT_EQ(access(MLCUBE_SOURCE_DIR "/examples/hello/build/busybox", X_OK), 0)
        << "run tools/prepare-examples.sh first (copies busybox into examples/hello/build)";
    ASSERT_EQ(Shell("docker info >/dev/null"), 0) << "start Docker: tools/start-docker.sh";
    IdentityLimitsTest::SetUp();
  }
  void TearDown() override {
    for (const std::string& job : jobs_) {
      Shell("docker ps -aq --filter label=mlcube-agent.job=" + job + " | xargs -r docker rm -f");
    }
    for (const std::string& image : built_images_) Shell("docker rmi -f " + image + " >/dev/null");
  }

  // Starts the ten-minute `count` task detached; returns the job id.
  std::string StartCount(const std::string& user, const std::string& cube) {
    CommandResult run = agents_.As(user, {"run", "-d", "--mlcube=" + cube, "--task=count"});
    EXPECT_EQ(run.exit_code, 0) << run.out << run.err << agents_.agent().Stderr();
    jobs_.push_back(JobIdIn(run));
    return jobs_.back();
  }

  // Waits (60 s at most) until `status JOB` says `state`.
  bool WaitFor(const std::string& user, const std::string& job, const std::string& state) {
    for (int tries = 0; tries < 300; ++tries) {
      CommandResult status = agents_.As(user, {"status", job});
      if ((status.out + status.err).find(state) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return false;
  }

  std::vector<std::string> jobs_;
  std::vector<std::string> built_images_;
};

TEST_F(DockerIdentityTest, AnIdentitysJobsWaitForItsOwnLimitNotForOthers) {
  const std::string alice_cube = CopyOfHello("alice-hello");
  const std::string bob_cube = CopyOfHello("bob-hello");
  const std::string first = StartCount("alice", alice_cube);
  ASSERT_TRUE(WaitFor("alice", first, "RUNNING")) << agents_.agent().Stderr();
  const std::string second = StartCount("alice", alice_cube);
  // bob's job starts although alice has one waiting: the agent has room.
  const std::string bobs = StartCount("bob", bob_cube);
  ASSERT_TRUE(WaitFor("bob", bobs, "RUNNING")) << agents_.agent().Stderr();
  CommandResult status = agents_.As("alice", {"status", second});
  EXPECT_THAT(status.out + status.err, HasSubstr("QUEUED"));
  // When alice's first ends, her second starts.
  CommandResult cancel = agents_.As("alice", {"cancel", first});
  EXPECT_EQ(cancel.exit_code, 0) << cancel.err;
  EXPECT_TRUE(WaitFor("alice", second, "RUNNING")) << agents_.agent().Stderr();
  agents_.As("alice", {"cancel", second});
  agents_.As("bob", {"cancel", bobs});
}

TEST_F(DockerIdentityTest, QueuedJobsAreCappedPerIdentityAndBatchesRefusedWhole) {
  const std::string cube = CopyOfHello("queued");
  const std::string running = StartCount("alice", cube);
  ASSERT_TRUE(WaitFor("alice", running, "RUNNING")) << agents_.agent().Stderr();
  // Three runs of one sweep would pass alice's two queued jobs: none is
  // accepted.
  CommandResult sweep =
      agents_.As("alice", {"run", "-d", "--mlcube=" + cube, "--task=count", "--repeat=3"});
  EXPECT_NE(sweep.exit_code, 0) << sweep.out << "\n---\n" << sweep.err;
  EXPECT_THAT(sweep.err, HasSubstr("cn-alice has 0 jobs queued on this agent; these 3 runs would "
                                   "pass the limit of 2 queued jobs per identity "
                                   "(limits.queued_jobs"));
  CommandResult listed = agents_.As("alice", {"jobs"});
  EXPECT_THAT(listed.out, testing::Not(HasSubstr("QUEUED"))) << listed.out;
  // Two single jobs fit; the third is refused, saying how many wait.
  StartCount("alice", cube);
  StartCount("alice", cube);
  CommandResult third = agents_.As("alice", {"run", "-d", "--mlcube=" + cube, "--task=count"});
  EXPECT_NE(third.exit_code, 0) << third.out;
  EXPECT_THAT(third.err, HasSubstr("cn-alice has 2 jobs queued on this agent; one more would pass "
                                   "the limit of 2 queued jobs per identity (limits.queued_jobs"));
  // bob's jobs are his own: his first is accepted.
  const std::string bobs = StartCount("bob", CopyOfHello("bob-queued"));
  EXPECT_TRUE(WaitFor("bob", bobs, "RUNNING")) << agents_.agent().Stderr();
  // A queued job cancelled makes room again.
  ASSERT_EQ(agents_.As("alice", {"cancel", jobs_[1]}).exit_code, 0);
  StartCount("alice", cube);
  for (const std::string& job : jobs_) agents_.As(job == bobs ? "bob" : "alice", {"cancel", job});
}

TEST_F(DockerIdentityTest, JobLogsCountInTheIdentitysStoredBytes) {
  // A task that prints 5 MB without a newline, in an image of this test.
  const std::string image = "mlcube/hello-log-quota-test:" + std::to_string(getpid());
  built_images_ = {::mlcube::OwnerImageTag("cn-alice", image)};
  const std::string cube = CopyOfHello("chatty");
  ASSERT_EQ(Shell("sed -i 's#^  fail)$#  fail) head -c 5000000 /dev/zero | tr \"\\\\000\" x#' " +
                  cube + "/build/hello.sh"),
            0);
  CommandResult run = agents_.As(
      "alice", {"-q", "run", "--mlcube=" + cube, "--task=fail", "-P", "docker.image=" + image});
  ASSERT_EQ(run.exit_code, 7) << run.err << agents_.agent().Stderr();
  ASSERT_GE(run.out.size(), 5000000u);
  // 1.9 MiB of cube and 5 MB of log pass alice's 6 MiB: her next push is
  // refused, naming the limit.
  CommandResult push = agents_.As("alice", {"sync", "push", "--mlcube=" + cube});
  EXPECT_NE(push.exit_code, 0) << push.out << push.err;
  EXPECT_THAT(push.err, HasSubstr("limits.stored_bytes"));
  // bob's quota is his own.
  CommandResult bob = agents_.As("bob", {"sync", "push", "--mlcube=" + CopyOfHello("bob-quiet")});
  EXPECT_EQ(bob.exit_code, 0) << bob.err;
}

TEST_F(DockerIdentityTest, FinishedJobsBeyondTheRetentionLimitAreRemovedAndListedAsSo) {
  const std::string cube = CopyOfHello("short");
  std::vector<std::string> finished;
  for (int i = 0; i < 4; ++i) {
    CommandResult run = agents_.As("alice", {"run", "-d", "--mlcube=" + cube, "--task=fail"});
    ASSERT_EQ(run.exit_code, 0) << run.err;
    finished.push_back(JobIdIn(run));
    ASSERT_TRUE(WaitFor("alice", finished.back(), "FAILED")) << agents_.agent().Stderr();
  }
  // Three finished jobs are kept: the oldest is gone, records and log.
  CommandResult listed = agents_.As("alice", {"jobs", "--all"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_THAT(listed.out, testing::Not(HasSubstr(finished[0])));
  for (int i = 1; i < 4; ++i) EXPECT_THAT(listed.out, HasSubstr(finished[i]));
  EXPECT_THAT(listed.out, HasSubstr("1 finished job was removed by the agent since it started; "
                                    "finished jobs are kept 30 days and at most 3 per identity "
                                    "(limits.finished_jobs_kept_days, limits.finished_jobs_kept)"));
  struct stat st;
  EXPECT_NE(stat((agents_.agent().state_dir() + "/jobs/" + finished[0]).c_str(), &st), 0);
  EXPECT_EQ(stat((agents_.agent().state_dir() + "/jobs/" + finished[1]).c_str(), &st), 0);
  CommandResult status = agents_.As("alice", {"status", finished[0]});
  EXPECT_NE(status.exit_code, 0);
  // bob's list is his own.
  EXPECT_THAT(agents_.As("bob", {"jobs", "--all"}).out, HasSubstr("0 finished jobs were removed"));
}

TEST_F(DockerIdentityTest, ACubeWithAnUnfinishedJobIsNotDeleted) {
  const std::string cube = CopyOfHello("busy");
  const std::string job = StartCount("alice", cube);
  CommandResult refused = agents_.As("alice", {"sync", "delete", "--yes", "--mlcube=" + cube});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_THAT(refused.err, HasSubstr("job " + job));
  EXPECT_THAT(refused.err, HasSubstr("cancel it first"));
  ASSERT_EQ(agents_.As("alice", {"cancel", job}).exit_code, 0);
  CommandResult deleted = agents_.As("alice", {"sync", "delete", "--yes", "--mlcube=" + cube});
  EXPECT_EQ(deleted.exit_code, 0) << deleted.err;
}

// A workspace that holds an earlier run's outputs (pulled from another
// host, shipped with the cube, or left by the quick start) is pushed with
// them; each identity's task (alice: a mapped uid, bob: one of the pool)
// then overwrites those files and writes beside them, twice in a row, as a
// task may overwrite what it made itself.
TEST_F(DockerIdentityTest, OutputsAnEarlierRunLeftAreOverwrittenByEachIdentitysTask) {
  for (const std::string user : {"alice", "bob"}) {
    const std::string cube = CopyOfHello(user + "-rerun");
    const std::string greetings = cube + "/workspace/greetings";
    ASSERT_EQ(Shell("mkdir -m 0755 " + greetings + " && echo stale > " + greetings +
                    "/Alice.txt && echo stale > " + greetings + "/summary.txt && chmod 0644 " +
                    greetings + "/*.txt"),
              0);
    for (int round = 1; round <= 2; ++round) {
      CommandResult run = agents_.As(user, {"run", "--mlcube=" + cube, "--task=greet"});
      ASSERT_EQ(run.exit_code, 0) << user << " round " << round << ": " << run.out << run.err
                                  << agents_.agent().Stderr();
      EXPECT_THAT(run.out + run.err, testing::Not(HasSubstr("Permission denied")));
      EXPECT_EQ(mlcube::testing::ReadFileContent(greetings + "/Alice.txt"), "Hello, Alice!\n")
          << user;
      EXPECT_EQ(mlcube::testing::ReadFileContent(greetings + "/summary.txt"), "greeted 3 names\n")
          << user;
      EXPECT_EQ(mlcube::testing::ReadFileContent(greetings + "/Charlie.txt"), "Hello, Charlie!\n")
          << user;
    }
  }
}

// Docker tags are global on a host: if builds used the cube's image name, a
// cube of alice's could build "mlcube/hello:0.1" with her code and bob's
// next run of his own hello cube would execute it, his data mounted.
TEST_F(DockerIdentityTest, AnotherIdentitysBuildNeverStandsInForYourImage) {
  // Both cubes name one image of this test only (other tests use hello's).
  const std::string image = "mlcube/hello-isolation-test:" + std::to_string(getpid());
  built_images_ = {::mlcube::OwnerImageTag("cn-alice", image),
                   ::mlcube::OwnerImageTag("cn-bob", image)};
  const std::string alice_cube = CopyOfHello("alice-poisoned");
  ASSERT_EQ(Shell("sed -i 's/Hello, /Poisoned, /' " + alice_cube + "/build/hello.sh"), 0);
  CommandResult alice = agents_.As(
      "alice", {"run", "--mlcube=" + alice_cube, "--task=greet", "-P", "docker.image=" + image});
  ASSERT_EQ(alice.exit_code, 0) << alice.out << alice.err;
  EXPECT_THAT(alice.out, HasSubstr("Poisoned, Alice!"));
  CommandResult bob = agents_.As("bob", {"run", "--mlcube=" + CopyOfHello("bob-hello"),
                                         "--task=greet", "-P", "docker.image=" + image});
  ASSERT_EQ(bob.exit_code, 0) << bob.out << bob.err;
  EXPECT_THAT(bob.out, HasSubstr("Hello, Alice!"));
  EXPECT_THAT(bob.out + bob.err, testing::Not(HasSubstr("Poisoned")));
  EXPECT_NE(Shell("docker image inspect " + image + " >/dev/null 2>&1"), 0)
      << "nobody built the shared name";
  // And bob cannot name alice's build directly.
  CommandResult named =
      agents_.As("bob", {"run", "--mlcube=" + CopyOfHello("bob-named"), "--task=greet", "-P",
                         "docker.image=mlcube-local/cn-alice:mlcube_hello_0.1-00000000"});
  EXPECT_EQ(named.exit_code, 2) << named.err;  // refused at submit, before any build
  EXPECT_THAT(named.err, HasSubstr("mlcube-local/ namespace"));
}

}  // namespace
}  // namespace mlcube_test
