// End-to-end sync tests: the real mlcube-agent on a real unix socket, the
// real mlcube-remote binary, and raw gRPC calls for the fault cases.

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

#include "agent/state/state_layout.h"
#include "agent/workspaces/commit_records.h"
#include "common/content_chunker.h"
#include "common/digest.h"
#include "common/unique_fd.h"
#include "common/zstd_codec.h"
#include "controller/sync/sync_client.h"
#include "mlcube_remote/v1/content_store.grpc.pb.h"
#include "mlcube_remote/v1/manifest.pb.h"
#include "mlcube_remote/v1/workspace.grpc.pb.h"
#include "tests/integration/agent_process.h"
#include "tests/support/command_runner.h"
#include "tests/support/temp_dir.h"

namespace mlcube {
namespace {

namespace v1 = ::mlcube_remote::v1;
using ::testing::HasSubstr;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& data) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i += 4) {
    uint32_t v = rng();
    memcpy(&s[i], &v, std::min<size_t>(4, n - i));
  }
  return s;
}

// Whether `path` is gone within `seconds` (start-up removes what a crash
// left aside on a thread of its own).
bool GoneWithin(const std::string& path, int seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::filesystem::exists(path)) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

constexpr char kMlcubeYaml[] = R"(name: synctest
description: sync integration test cube
platform:
  accelerator_count: 0
docker:
  image: synctest:latest
tasks:
  run:
    parameters:
      inputs: {data: data/}
      outputs: {out: out/}
)";

struct PushResult {
  int exit_code;
  int64_t bytes_sent = -1;
  std::string out, err;
};

class SyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(agent_.Start());
    cube_ = home_.path() + "/cube";
    WriteFile(cube_ + "/mlcube.yaml", kMlcubeYaml);
    WriteFile(cube_ + "/workspace/data/small.txt", "small input\n");
    WriteFile(cube_ + "/workspace/data/big.bin", RandomBytes(3 << 20, 1));
    WriteFile(cube_ + "/workspace/model.sif", "pretend image");
    ASSERT_EQ(symlink("data/small.txt", (cube_ + "/workspace/link").c_str()), 0);
  }

  PushResult Sync(const std::vector<std::string>& args, const std::string& cube = "",
                  const std::vector<std::string>& prefix = {}) {
    std::vector<std::string> argv = prefix;
    argv.push_back(MLCUBE_REMOTE_BINARY);
    argv.push_back("sync");
    for (const auto& a : args) argv.push_back(a);
    argv.push_back("--mlcube=" + (cube.empty() ? cube_ : cube));
    argv.push_back("--agent=unix://" + agent_.socket_path());
    std::vector<std::string> env = extra_env_;
    env.push_back("XDG_CACHE_HOME=" + home_.path() + "/cache");
    testing::CommandResult r = testing::RunCommand(argv, env, 120);
    PushResult out{r.exit_code, -1, r.out, r.err};
    std::smatch m;
    if (std::regex_search(r.out, m, std::regex(R"((\d+) bytes\))"))) {
      out.bytes_sent = std::stoll(m[1]);
    }
    return out;
  }
  PushResult Push() { return Sync({"push"}); }

  // Writes `big` (an earlier version of workspace/data/ckpt.bin with 1 MiB
  // appended) and pushes: the new MiB travels, at most with the old last
  // chunk, the chunk list and the manifest.
  void PushExpectingOnlyTheAppendedMiB(const std::string& big) {
    WriteFile(cube_ + "/workspace/data/ckpt.bin", big);
    PushResult append = Push();
    ASSERT_EQ(append.exit_code, 0) << append.err;
    EXPECT_GE(append.bytes_sent, 1 << 20);
    EXPECT_LE(append.bytes_sent, (1 << 20) + (256 << 10) + (64 << 10));
    EXPECT_EQ(ReadFile(Remote("workspace/data/ckpt.bin")), big);
  }

  // The id `sync push` gives a cube by default.
  static std::string CubeId(const std::string& dir) { return SyncClient::DefaultCubeId(dir); }
  // Uploads `manifest` and commits it as `cube_id` over raw gRPC, as a
  // client of our own could; the commit's status.
  grpc::Status CommitOverGrpc(const v1::Manifest& manifest, const std::string& cube_id) {
    const std::string bytes = manifest.SerializeAsString();
    v1::ContentStore::Stub cas(agent_.Channel());
    v1::BatchUploadBlobsRequest up;
    auto* blob = up.add_blobs();
    *blob->mutable_digest() = DigestOf(bytes);
    blob->set_data(bytes);
    v1::BatchUploadBlobsResponse up_response;
    grpc::ClientContext upload;
    grpc::Status uploaded = cas.BatchUploadBlobs(&upload, up, &up_response);
    EXPECT_TRUE(uploaded.ok()) << "uploading the manifest: " << uploaded.error_message();
    if (!uploaded.ok()) return uploaded;
    v1::Workspaces::Stub ws(agent_.Channel());
    v1::CommitManifestRequest commit;
    commit.set_cube_id(cube_id);
    *commit.mutable_manifest_digest() = DigestOf(bytes);
    v1::CommitManifestResponse response;
    grpc::ClientContext ctx;
    return ws.CommitManifest(&ctx, commit, &response);
  }
  std::string Remote(const std::string& rel, const std::string& cube = "") const {
    return agent_.state_dir() + "/cubes/uid-" + std::to_string(getuid()) + "/" +
           CubeId(cube.empty() ? cube_ : cube) + "/" + rel;
  }

  mlcube_test::AgentProcess agent_;
  std::vector<std::string> extra_env_;
  testing::TempDir home_;
  std::string cube_;
};

TEST_F(SyncTest, PushMaterialisesCubeWithoutImagesAndNoOpSendsNothing) {
  PushResult first = Push();
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_THAT(first.out, HasSubstr("3 files scanned"));
  EXPECT_GT(first.bytes_sent, 3 << 20);
  EXPECT_EQ(ReadFile(Remote("mlcube.yaml")), kMlcubeYaml);
  EXPECT_EQ(ReadFile(Remote("workspace/data/big.bin")), RandomBytes(3 << 20, 1));
  EXPECT_TRUE(std::filesystem::is_symlink(Remote("workspace/link")));
  EXPECT_EQ(ReadFile(Remote("workspace/link")), "small input\n");
  EXPECT_FALSE(std::filesystem::exists(Remote("workspace/model.sif")));
  // A workspace file is a copy, not a hard link into the blob store.
  struct stat st;
  ASSERT_EQ(stat(Remote("workspace/data/big.bin").c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 1u);

  PushResult again = Push();
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.bytes_sent, 0);
  EXPECT_THAT(again.out, HasSubstr("already up to date"));
}

TEST_F(SyncTest, ChangedFileIsTheOnlyThingSent) {
  ASSERT_EQ(Push().exit_code, 0);
  WriteFile(cube_ + "/workspace/data/small.txt", "changed input, longer\n");
  PushResult r = Push();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The file plus the new manifest blob (a few hundred bytes).
  EXPECT_GE(r.bytes_sent, 22);
  EXPECT_LT(r.bytes_sent, 22 + 4096);
  EXPECT_THAT(r.out, HasSubstr("1 files /"));
  EXPECT_EQ(ReadFile(Remote("workspace/data/small.txt")), "changed input, longer\n");
}

TEST_F(SyncTest, DeletedFileIsPrunedButTaskOutputsStay) {
  ASSERT_EQ(Push().exit_code, 0);
  ASSERT_TRUE(std::filesystem::exists(Remote("workspace/data/small.txt")));
  WriteFile(Remote("workspace/out/result.txt"), "task output");
  std::filesystem::remove(cube_ + "/workspace/data/small.txt");
  std::filesystem::remove(cube_ + "/workspace/link");
  PushResult r = Push();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(std::filesystem::exists(Remote("workspace/data/small.txt")));
  EXPECT_EQ(ReadFile(Remote("workspace/out/result.txt")), "task output");
}

TEST_F(SyncTest, InputRewrittenByATaskIsRestoredByTheNextPush) {
  ASSERT_EQ(Push().exit_code, 0);
  // A job starts in the cube (the agent marks its workspace used, as the job
  // manager does), its task scribbles over an input; the user edits another
  // file.
  const StateLayout layout(agent_.state_dir(), agent_.state_dir() + "/images");
  ASSERT_TRUE(CommitRecords(&layout)
                  .MarkWorkspaceUsed("uid-" + std::to_string(getuid()), CubeId(cube_))
                  .ok());
  WriteFile(Remote("workspace/data/big.bin"), "scribbled by a task");
  WriteFile(cube_ + "/workspace/data/small.txt", "next version\n");
  PushResult r = Push();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadFile(Remote("workspace/data/big.bin")), RandomBytes(3 << 20, 1));
  EXPECT_EQ(ReadFile(Remote("workspace/data/small.txt")), "next version\n");
  // The agent kept no second copy of big.bin (it was sent whole, and written
  // once, into the workspace): that one file travels again, nothing else.
  EXPECT_GE(r.bytes_sent, 3 << 20);
  EXPECT_LT(r.bytes_sent, (3 << 20) + (64 << 10));
}

TEST_F(SyncTest, SecondCubeWithSameDataSendsAlmostNothing) {
  ASSERT_EQ(Push().exit_code, 0);
  const std::string twin = home_.path() + "/twin";
  std::filesystem::copy(
      cube_, twin,
      std::filesystem::copy_options::recursive | std::filesystem::copy_options::copy_symlinks);
  PushResult r = Sync({"push"}, twin);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("0 files /"));
  EXPECT_LT(r.bytes_sent, 4096);  // only the manifest
  EXPECT_EQ(ReadFile(Remote("workspace/data/big.bin", twin)), RandomBytes(3 << 20, 1));
}

TEST_F(SyncTest, DryRunChangesNothing) {
  PushResult r = Sync({"push", "--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("would be sent"));
  EXPECT_FALSE(std::filesystem::exists(Remote("mlcube.yaml")));
  // Where a real push puts it.
  ASSERT_EQ(Push().exit_code, 0);
  EXPECT_TRUE(std::filesystem::exists(Remote("mlcube.yaml")));
}

TEST_F(SyncTest, SymlinkLeavingTheCubeIsRefusedByName) {
  ASSERT_EQ(symlink("/etc/passwd", (cube_ + "/workspace/escape").c_str()), 0);
  PushResult r = Push();
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("workspace/escape"));
}

TEST_F(SyncTest, PullFetchesOutputsAndKeepsLocallyChangedFiles) {
  ASSERT_EQ(Push().exit_code, 0);
  // What a task would leave behind.
  WriteFile(Remote("workspace/out/model.bin"), RandomBytes(2 << 20, 7));
  WriteFile(Remote("workspace/out/metrics.json"), "{\"acc\": 0.9}");
  WriteFile(Remote("workspace/data/small.txt"), "rewritten by the task\n");
  // The user edits the same input locally meanwhile.
  WriteFile(cube_ + "/workspace/data/small.txt", "edited locally\n");

  PushResult r = Sync({"pull", "--path=out", "--path=data"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadFile(cube_ + "/workspace/out/model.bin"), RandomBytes(2 << 20, 7));
  EXPECT_EQ(ReadFile(cube_ + "/workspace/out/metrics.json"), "{\"acc\": 0.9}");
  EXPECT_EQ(ReadFile(cube_ + "/workspace/data/small.txt"), "edited locally\n");
  EXPECT_EQ(ReadFile(cube_ + "/workspace/data/small.txt.remote"), "rewritten by the task\n");
  EXPECT_THAT(r.err, HasSubstr("kept your"));
  EXPECT_THAT(r.out, HasSubstr("1 conflicts"));
  EXPECT_GE(r.bytes_sent, 2 << 20);  // "bytes" here: received

  // A second pull fetches nothing: the local files have that content.
  PushResult again = Sync({"pull", "--path=out"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.bytes_sent, 0);

  // A file unchanged locally since the last sync is updated in place.
  WriteFile(Remote("workspace/out/metrics.json"), "{\"acc\": 0.95}");
  ASSERT_EQ(Sync({"pull", "--path=out"}).exit_code, 0);
  EXPECT_EQ(ReadFile(cube_ + "/workspace/out/metrics.json"), "{\"acc\": 0.95}");
  EXPECT_FALSE(std::filesystem::exists(cube_ + "/workspace/out/metrics.json.remote"));
}

TEST_F(SyncTest, PullOfAChangedBigOutputFetchesOnlyTheNewChunks) {
  ASSERT_EQ(Push().exit_code, 0);
  std::string model = RandomBytes(12 << 20, 41);
  WriteFile(Remote("workspace/out/model.bin"), model);
  PushResult first = Sync({"pull", "--path=out"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(ReadFile(cube_ + "/workspace/out/model.bin"), model);

  // The next run appends to the checkpoint and changes a little inside it.
  model += RandomBytes(1 << 20, 42);
  for (int i = 0; i < 100; ++i) model[(6 << 20) + i] ^= 0x42;
  WriteFile(Remote("workspace/out/model.bin"), model);
  PushResult again = Sync({"pull", "--path=out"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(ReadFile(cube_ + "/workspace/out/model.bin"), model);
  EXPECT_GE(again.bytes_sent, 1 << 20);  // "bytes" here: received
  EXPECT_LE(again.bytes_sent, (1 << 20) + 3 * (256 << 10));
}

TEST_F(SyncTest, OwnersAreKeptApart) {
  ASSERT_EQ(Push().exit_code, 0);
  uid_t uid;
  gid_t gid;
  ASSERT_TRUE(mlcube_test::LookupUser("mlcube", &uid, &gid));
  // The other user needs to read the cube and write its own cache.
  const std::string other_home = home_.path() + "/other";
  std::filesystem::create_directories(other_home);
  ASSERT_EQ(chown(other_home.c_str(), uid, gid), 0);
  chmod(home_.path().c_str(), 0755);
  chmod(agent_.state_dir().c_str(), 0755);
  chmod(agent_.socket_path().c_str(), 0777);
  std::vector<std::string> argv = {"/usr/bin/setpriv",
                                   "--reuid=" + std::to_string(uid),
                                   "--regid=" + std::to_string(gid),
                                   "--clear-groups",
                                   MLCUBE_REMOTE_BINARY,
                                   "sync",
                                   "push",
                                   "--mlcube=" + cube_,
                                   "--agent=unix://" + agent_.socket_path()};
  testing::CommandResult r = testing::RunCommand(argv, {"XDG_CACHE_HOME=" + other_home}, 60);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string mine = agent_.state_dir() + "/cubes/uid-" + std::to_string(getuid()) + "/" +
                           CubeId(cube_) + "/mlcube.yaml";
  const std::string theirs = agent_.state_dir() + "/cubes/uid-" + std::to_string(uid) + "/" +
                             CubeId(cube_) + "/mlcube.yaml";
  EXPECT_TRUE(std::filesystem::exists(mine));
  EXPECT_TRUE(std::filesystem::exists(theirs));
  // Each owner lists only their own cubes.
  v1::Workspaces::Stub stub(agent_.Channel());
  grpc::ClientContext ctx;
  v1::ListCubesResponse cubes;
  ASSERT_TRUE(stub.ListCubes(&ctx, v1::ListCubesRequest(), &cubes).ok());
  EXPECT_EQ(cubes.cubes_size(), 1);
}

TEST_F(SyncTest, DeleteRemovesTheCubeFromTheAgentOnlyWhenConfirmed) {
  ASSERT_EQ(Push().exit_code, 0);
  const std::string tree = Remote("");
  ASSERT_TRUE(std::filesystem::exists(tree + "mlcube.yaml"));
  // Outputs only the agent has would be lost: not without --yes.
  PushResult unconfirmed = Sync({"delete"});
  EXPECT_EQ(unconfirmed.exit_code, 2);
  EXPECT_THAT(unconfirmed.err, HasSubstr("--yes"));
  EXPECT_TRUE(std::filesystem::exists(tree + "mlcube.yaml"));

  PushResult deleted = Sync({"delete", "--yes"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
  EXPECT_THAT(deleted.out, HasSubstr("freed"));
  EXPECT_FALSE(std::filesystem::exists(tree));
  v1::Workspaces::Stub stub(agent_.Channel());
  grpc::ClientContext ctx;
  v1::ListCubesResponse cubes;
  ASSERT_TRUE(stub.ListCubes(&ctx, v1::ListCubesRequest(), &cubes).ok());
  EXPECT_EQ(cubes.cubes_size(), 0);
  // Nothing left behind on the agent's side of the cube.
  std::string leftovers;
  mlcube_test::Shell("ls -A " + agent_.state_dir() + "/cubes/uid-" + std::to_string(getuid()),
                     &leftovers);
  EXPECT_EQ(leftovers, "");
  // Deleting again: there is nothing to delete.
  PushResult again = Sync({"delete", "--yes"});
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_THAT(again.err, HasSubstr("is not on this agent"));
  // A removal that a crash interrupted is finished when the agent starts.
  const std::string owner_dir = agent_.state_dir() + "/cubes/uid-" + std::to_string(getuid());
  WriteFile(owner_dir + "/.deleting-old-1/workspace/out.bin", "left by a crash");
  agent_.Kill(SIGKILL);
  ASSERT_TRUE(agent_.Start());
  EXPECT_TRUE(GoneWithin(owner_dir + "/.deleting-old-1", 10));
  // The next push puts the cube back in full. (The chunks of big.bin are
  // still in the blob store, which a delete does not touch: they are not
  // sent again.)
  PushResult push = Push();
  ASSERT_EQ(push.exit_code, 0) << push.err;
  EXPECT_TRUE(std::filesystem::exists(tree + "mlcube.yaml"));
  EXPECT_EQ(ReadFile(tree + "workspace/data/big.bin"), RandomBytes(3 << 20, 1));
  EXPECT_GT(push.bytes_sent, 0);
}

// A commit interrupted by a crash leaves staged temp files; the agent
// removes them when it starts, and touches nothing else.
TEST_F(SyncTest, TempFilesOfAnInterruptedCommitAreRemovedAtStartUp) {
  ASSERT_EQ(Push().exit_code, 0);
  WriteFile(Remote("workspace/data/.mlcube-sync-7.tmp"), "half a file");
  WriteFile(Remote("workspace/out/result.txt"), "a task's output");
  agent_.Kill(SIGKILL);
  ASSERT_TRUE(agent_.Start());
  EXPECT_FALSE(std::filesystem::exists(Remote("workspace/data/.mlcube-sync-7.tmp")));
  EXPECT_EQ(ReadFile(Remote("workspace/out/result.txt")), "a task's output");
  EXPECT_EQ(ReadFile(Remote("workspace/data/small.txt")), "small input\n");
}

TEST_F(SyncTest, SnapshotOfUnknownJobIsNotFound) {
  ASSERT_EQ(Push().exit_code, 0);
  v1::Workspaces::Stub stub(agent_.Channel());
  grpc::ClientContext ctx;
  v1::SnapshotRequest request;
  request.set_cube_id(CubeId(cube_));
  request.set_job_id("no-such-job");
  v1::SnapshotResponse response;
  grpc::Status s = stub.Snapshot(&ctx, request, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
}

// Makes `levels` nested directories "d" below `root` (as a task can, with
// relative mkdir and cd), with a file at the bottom.
void MakeDeepTree(const std::string& root, int levels) {
  std::filesystem::create_directories(root);
  int cur = open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(cur, 0);
  for (int i = 0; i < levels; ++i) {
    ASSERT_EQ(mkdirat(cur, "d", 0755), 0);
    int next = openat(cur, "d", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    close(cur);
    ASSERT_GE(next, 0);
    cur = next;
  }
  int f = openat(cur, "bottom.txt", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  close(f);
  close(cur);
}

// A task that writes a tree 20,000 levels deep gets an error from the next
// snapshot; the agent stays up, restarts with the tree in place, and deletes
// the cube (removing such a chain takes about a minute on ext4).
TEST_F(SyncTest, TreeTwentyThousandLevelsDeepIsRefusedWithoutHarmingTheAgent) {
  ASSERT_EQ(Push().exit_code, 0);
  MakeDeepTree(Remote("workspace/out"), 20'000);
  v1::Workspaces::Stub stub(agent_.Channel());
  {
    grpc::ClientContext ctx;
    v1::SnapshotRequest request;
    request.set_cube_id(CubeId(cube_));
    v1::SnapshotResponse response;
    grpc::Status s = stub.Snapshot(&ctx, request, &response);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr("deeper than"));
  }
  // Start-up walks every workspace (for a crash's temp files): it comes up.
  agent_.Kill(SIGKILL);
  ASSERT_TRUE(agent_.Start()) << agent_.Stderr();
  v1::Workspaces::Stub restarted(agent_.Channel());
  {  // Serving, and the shallow part can be snapshotted.
    grpc::ClientContext ctx;
    v1::SnapshotRequest request;
    request.set_cube_id(CubeId(cube_));
    request.add_paths("data");
    v1::SnapshotResponse response;
    grpc::Status s = restarted.Snapshot(&ctx, request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(response.file_count(), 2);
  }
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(170));
    v1::DeleteCubeRequest request;
    request.set_cube_id(CubeId(cube_));
    v1::DeleteCubeResponse response;
    grpc::Status s = restarted.DeleteCube(&ctx, request, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_FALSE(std::filesystem::exists(Remote("")));
  PushResult push = Push();
  EXPECT_EQ(push.exit_code, 0) << push.err;
}

// A task's 100 MiB output, named as a manifest, is refused by the size its
// digest names before a byte of it is read; a read whose offset + limit
// overflows is refused too.
TEST_F(SyncTest, OversizedManifestAndOverflowingReadAreRefusedUpFront) {
  ASSERT_EQ(Push().exit_code, 0);
  const std::string big = RandomBytes(100 << 20, 7);
  WriteFile(Remote("workspace/out/big.bin"), big);
  v1::Workspaces::Stub ws(agent_.Channel());
  {  // The caller may now read (and so name) the output's blob.
    grpc::ClientContext ctx;
    v1::SnapshotRequest request;
    request.set_cube_id(CubeId(cube_));
    request.add_paths("out");
    v1::SnapshotResponse response;
    ASSERT_TRUE(ws.Snapshot(&ctx, request, &response).ok());
  }
  grpc::ClientContext ctx;
  v1::CommitManifestRequest commit;
  commit.set_cube_id(CubeId(cube_));
  *commit.mutable_manifest_digest() = DigestOf(big);
  v1::CommitManifestResponse response;
  grpc::Status s = ws.CommitManifest(&ctx, commit, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("the limit is 67108864 bytes"));

  v1::ContentStore::Stub cas(agent_.Channel());
  grpc::ClientContext read_ctx;
  v1::ReadBlobRequest read;
  *read.mutable_digest() = DigestOf(big);
  read.set_offset(1);
  read.set_limit(INT64_MAX);
  std::unique_ptr<grpc::ClientReader<v1::ReadBlobChunk>> reader = cas.ReadBlob(&read_ctx, read);
  v1::ReadBlobChunk chunk;
  while (reader->Read(&chunk)) {
  }
  grpc::Status read_status = reader->Finish();
  EXPECT_EQ(read_status.error_code(), grpc::StatusCode::OUT_OF_RANGE)
      << read_status.error_message();
}

// --- Faults, over raw gRPC ---------------------------------------------------

TEST_F(SyncTest, ManifestWithBadPathsIsRefusedNamingThePath) {
  for (const std::string& bad : {std::string("../escape"), std::string("/abs/path"),
                                 std::string("a//b"), std::string("nul\0byte", 8)}) {
    v1::Manifest m;
    auto* e = m.add_entries();
    e->set_path(bad);
    e->set_type(v1::ENTRY_TYPE_FILE);
    *e->mutable_digest() = DigestOf("x");
    grpc::Status s = CommitOverGrpc(m, "evil");
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
    // Quoted printable: a NUL shows as \x00.
    std::string shown = bad;
    if (bad.find('\0') != std::string::npos) shown = "nul\\x00byte";
    EXPECT_THAT(s.error_message(), HasSubstr(shown));
  }
  EXPECT_FALSE(std::filesystem::exists(agent_.state_dir() + "/escape"));
}

// A commit marks the cube's record before it changes anything and its own
// record clears the mark: one that fails on the way leaves the next push
// committing again and looking at every file on disk (a file gone from the
// workspace stands here for what a commit that stopped half-way leaves).
TEST_F(SyncTest, ACommitThatFailsOnTheWayLeavesTheNextOneLookingAtTheDisk) {
  ASSERT_EQ(Push().exit_code, 0);
  v1::Manifest m;
  auto* dir = m.add_entries();
  dir->set_path("workspace");
  dir->set_type(v1::ENTRY_TYPE_DIRECTORY);
  dir->set_mode(0755);
  auto* file = m.add_entries();
  file->set_path("workspace/never-sent.txt");
  file->set_type(v1::ENTRY_TYPE_FILE);
  file->set_mode(0644);
  *file->mutable_digest() = DigestOf("never sent");
  grpc::Status failed = CommitOverGrpc(m, CubeId(cube_));
  ASSERT_EQ(failed.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << failed.error_message();
  v1::Workspaces::Stub ws(agent_.Channel());
  grpc::ClientContext c3;
  v1::ListCubesResponse cubes;
  ASSERT_TRUE(ws.ListCubes(&c3, v1::ListCubesRequest(), &cubes).ok());
  ASSERT_EQ(cubes.cubes_size(), 1);
  EXPECT_TRUE(cubes.cubes(0).workspace_used());

  ASSERT_EQ(unlink(Remote("workspace/data/big.bin").c_str()), 0);
  PushResult again = Push();
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(again.out, ::testing::Not(HasSubstr("already up to date")));
  EXPECT_EQ(ReadFile(Remote("workspace/data/big.bin")), RandomBytes(3 << 20, 1));
}

TEST_F(SyncTest, ChunkWithWrongDigestIsRefused) {
  v1::ContentStore::Stub cas(agent_.Channel());
  const std::string data = RandomBytes(3 << 20, 3);
  v1Digest digest = DigestOf(data);
  std::string tampered = data;
  tampered[2 << 20] ^= 1;
  grpc::ClientContext ctx;
  v1::UploadBlobResponse response;
  auto writer = cas.UploadBlob(&ctx, &response);
  for (int64_t off = 0; off < static_cast<int64_t>(data.size()); off += 1 << 20) {
    v1::UploadChunk chunk;
    *chunk.mutable_digest() = digest;
    chunk.set_offset(off);
    chunk.set_data(tampered.substr(off, 1 << 20));
    chunk.set_finish_write(off + (1 << 20) >= static_cast<int64_t>(data.size()));
    if (!writer->Write(chunk)) break;
  }
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("does not match"));
  v1::FindMissingBlobsRequest find;
  *find.add_digests() = digest;
  v1::FindMissingBlobsResponse missing;
  grpc::ClientContext c2;
  ASSERT_TRUE(cas.FindMissingBlobs(&c2, find, &missing).ok());
  EXPECT_EQ(missing.missing_size(), 1);

  // The batched path too.
  v1::BatchUploadBlobsRequest batch;
  auto* blob = batch.add_blobs();
  *blob->mutable_digest() = DigestOf("right");
  blob->set_data("wrong");
  v1::BatchUploadBlobsResponse batch_response;
  grpc::ClientContext c3;
  ASSERT_TRUE(cas.BatchUploadBlobs(&c3, batch, &batch_response).ok());
  EXPECT_EQ(batch_response.results(0).status().code(), grpc::StatusCode::INVALID_ARGUMENT);
}

// Uploads `blobs` (each at most 1 MiB) in batches of at most 1 MiB.
void UploadBatches(v1::ContentStore::Stub* cas, const std::vector<std::string>& blobs) {
  size_t i = 0;
  while (i < blobs.size()) {
    v1::BatchUploadBlobsRequest request;
    int64_t bytes = 0;
    for (; i < blobs.size() && bytes + static_cast<int64_t>(blobs[i].size()) <= (1 << 20); ++i) {
      v1::BlobData* blob = request.add_blobs();
      *blob->mutable_digest() = DigestOf(blobs[i]);
      blob->set_data(blobs[i]);
      bytes += static_cast<int64_t>(blobs[i].size());
    }
    v1::BatchUploadBlobsResponse response;
    grpc::ClientContext ctx;
    ASSERT_TRUE(cas->BatchUploadBlobs(&ctx, request, &response).ok());
    for (const auto& r : response.results()) ASSERT_EQ(r.status().code(), 0);
  }
}

// The content-defined chunks of `data`, as the client cuts them.
std::vector<std::string> ChunksOf(const std::string& data, const std::string& scratch) {
  WriteFile(scratch, data);
  UniqueFd fd(open(scratch.c_str(), O_RDONLY | O_CLOEXEC));
  absl::StatusOr<ContentChunker::FileChunks> chunks = ContentChunker::ChunkFd(fd.get());
  std::vector<std::string> out;
  if (!chunks.ok()) return out;
  for (const ContentChunker::Chunk& c : chunks->chunks) {
    out.push_back(data.substr(static_cast<size_t>(c.offset), static_cast<size_t>(c.size)));
  }
  return out;
}

TEST_F(SyncTest, KilledAgentMidUploadResumesAndSendsOnlyTheRest) {
  const std::string big = RandomBytes(24 << 20, 11);
  WriteFile(cube_ + "/workspace/data/huge.bin", big);
  PushResult dry = Sync({"push", "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  const int64_t all_file_bytes = dry.bytes_sent;

  // A big file travels as chunks: store the chunks of its first 5 MiB, then
  // kill the agent in the middle of a stream.
  const std::vector<std::string> chunks = ChunksOf(big, home_.path() + "/scratch");
  ASSERT_GT(chunks.size(), 100u);
  std::vector<std::string> first;
  int64_t committed = 0;
  for (const std::string& c : chunks) {
    if (committed >= (5 << 20)) break;
    first.push_back(c);
    committed += static_cast<int64_t>(c.size());
  }
  v1::ContentStore::Stub cas(agent_.Channel());
  UploadBatches(&cas, first);
  {
    grpc::ClientContext ctx;
    v1::UploadBlobResponse response;
    auto writer = cas.UploadBlob(&ctx, &response);
    const std::string& next = chunks[first.size()];
    v1::UploadChunk chunk;
    *chunk.mutable_digest() = DigestOf(next);
    chunk.set_data(next.substr(0, next.size() / 2));
    ASSERT_TRUE(writer->Write(chunk));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    agent_.Kill(SIGKILL);
    ctx.TryCancel();
  }
  ASSERT_TRUE(agent_.Start());
  PushResult r = Push();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Everything but the stored chunks, plus the chunk lists and the manifest.
  EXPECT_GE(r.bytes_sent, all_file_bytes - committed);
  EXPECT_LT(r.bytes_sent, all_file_bytes - committed + (64 << 10));
  EXPECT_EQ(ReadFile(Remote("workspace/data/huge.bin")), big);
}

TEST_F(SyncTest, ChangedBigFileSendsOnlyTheChunksAroundTheChange) {
  std::string big = RandomBytes(16 << 20, 21);
  WriteFile(cube_ + "/workspace/data/ckpt.bin", big);
  PushResult first = Push();
  ASSERT_EQ(first.exit_code, 0) << first.err;

  // 1 MiB appended: the new MiB and at most the old last chunk.
  big += RandomBytes(1 << 20, 22);
  ASSERT_NO_FATAL_FAILURE(PushExpectingOnlyTheAppendedMiB(big));

  // 100 bytes changed in the middle: one or two chunks.
  for (int i = 0; i < 100; ++i) big[(8 << 20) + i] ^= 0x33;
  WriteFile(cube_ + "/workspace/data/ckpt.bin", big);
  PushResult edit = Push();
  ASSERT_EQ(edit.exit_code, 0) << edit.err;
  EXPECT_LE(edit.bytes_sent, 300 << 10);
  EXPECT_EQ(ReadFile(Remote("workspace/data/ckpt.bin")), big);
  // The spliced file is a plain copy in the workspace.
  struct stat st;
  ASSERT_EQ(stat(Remote("workspace/data/ckpt.bin").c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 1u);
}

// Bytes of all regular files under `dir`.
int64_t BytesUnder(const std::string& dir) {
  int64_t total = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) total += static_cast<int64_t>(e.file_size());
  }
  return total;
}

// A big file the agent holds no chunk of travels whole and is written once,
// into the workspace: the store keeps no chunks of it. The agent still knows
// where its chunks sit (inside that file), also after a restart, so an append
// sends only the new data.
TEST_F(SyncTest, NewBigFileTravelsWholeAndItsChunksAreStillKnownAfterARestart) {
  std::string big = RandomBytes(16 << 20, 31);
  WriteFile(cube_ + "/workspace/data/ckpt.bin", big);
  PushResult first = Push();
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_LT(BytesUnder(agent_.state_dir() + "/blobs"), 1 << 20);
  EXPECT_EQ(ReadFile(Remote("workspace/data/ckpt.bin")), big);

  agent_.Kill(SIGKILL);
  ASSERT_TRUE(agent_.Start());
  big += RandomBytes(1 << 20, 32);
  ASSERT_NO_FATAL_FAILURE(PushExpectingOnlyTheAppendedMiB(big));
}

// The agent reads the chunks an append leaves unchanged from inside the
// file's earlier version in the workspace, checking only the whole new file.
// When that earlier version was rewritten in place (as a task could, keeping
// its size and mtime), the check fails, the splice goes again chunk by chunk,
// the rewritten chunk is asked for again, and the workspace gets the
// laptop's bytes.
TEST_F(SyncTest, AChunkSourceRewrittenInPlaceOnTheAgentIsNotSplicedIn) {
  std::string big = RandomBytes(16 << 20, 41);
  WriteFile(cube_ + "/workspace/data/ckpt.bin", big);
  PushResult first = Push();
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const std::string remote = Remote("workspace/data/ckpt.bin");
  struct stat before;
  ASSERT_EQ(stat(remote.c_str(), &before), 0);
  {
    mlcube::UniqueFd fd(open(remote.c_str(), O_WRONLY | O_CLOEXEC));
    ASSERT_TRUE(fd) << strerror(errno);
    const std::string rewritten(4096, 'X');
    ASSERT_EQ(pwrite(fd.get(), rewritten.data(), rewritten.size(), 4 << 20),
              static_cast<ssize_t>(rewritten.size()));
  }
  const struct timespec times[2] = {before.st_atim, before.st_mtim};
  ASSERT_EQ(utimensat(AT_FDCWD, remote.c_str(), times, 0), 0);

  big += RandomBytes(1 << 20, 42);
  WriteFile(cube_ + "/workspace/data/ckpt.bin", big);
  PushResult r = Push();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadFile(remote), big);
  EXPECT_GT(r.bytes_sent, 1 << 20);  // the new MiB and the rewritten chunk
}

// What a client that uses neither chunks nor compression does (as with an
// agent that does not offer them): big files travel whole, and work.
TEST_F(SyncTest, WithoutTheOptionalFeaturesFilesTravelWholeAndUncompressed) {
  extra_env_ = {"MLCUBE_REMOTE_SYNC_FEATURES="};
  std::string big = RandomBytes(4 << 20, 51);
  WriteFile(cube_ + "/workspace/data/ckpt.bin", big);
  std::string text(200 << 10, 'z');
  WriteFile(cube_ + "/workspace/data/zeros.txt", text);
  ASSERT_EQ(Push().exit_code, 0);
  big += "appended";
  WriteFile(cube_ + "/workspace/data/ckpt.bin", big);
  PushResult r = Push();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GE(r.bytes_sent, static_cast<int64_t>(big.size()));  // whole, not a delta
  EXPECT_EQ(ReadFile(Remote("workspace/data/ckpt.bin")), big);
  EXPECT_EQ(ReadFile(Remote("workspace/data/zeros.txt")), text);
}

TEST_F(SyncTest, CompressibleDataTravelsCompressedAndArrivesIntact) {
  std::string text;
  for (int i = 0; text.size() < (3u << 20); ++i) {
    text += "row " + std::to_string(i) + ", value " + std::to_string(i * 7 % 1000) + "\n";
  }
  WriteFile(cube_ + "/workspace/data/table.csv", text);
  WriteFile(cube_ + "/workspace/data/notes.txt", text.substr(0, 100 << 10));
  std::filesystem::remove(cube_ + "/workspace/data/big.bin");
  PushResult r = Push();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Far fewer bytes than the 3.1 MiB of text.
  EXPECT_LT(r.bytes_sent, 1 << 20);
  EXPECT_EQ(ReadFile(Remote("workspace/data/table.csv")), text);
  EXPECT_EQ(ReadFile(Remote("workspace/data/notes.txt")), text.substr(0, 100 << 10));
}

TEST_F(SyncTest, CompressedBlobsThatLieAreRefused) {
  v1::ContentStore::Stub cas(agent_.Channel());
  const std::string data(64 << 10, 'a');
  v1::BatchUploadBlobsRequest batch;
  v1::BlobData* garbage = batch.add_blobs();  // not a zstd frame
  *garbage->mutable_digest() = DigestOf(data);
  garbage->set_data("not zstd at all");
  garbage->set_compressor(v1::COMPRESSOR_ZSTD);
  v1::BlobData* bomb = batch.add_blobs();  // declares more than its digest
  *bomb->mutable_digest() = DigestOf("tiny");
  bomb->set_data(ZstdCodec::Compress(data, 1));
  bomb->set_compressor(v1::COMPRESSOR_ZSTD);
  v1::BlobData* wrong = batch.add_blobs();  // decompresses to other bytes
  *wrong->mutable_digest() = DigestOf(std::string(64 << 10, 'b'));
  wrong->set_data(ZstdCodec::Compress(data, 1));
  wrong->set_compressor(v1::COMPRESSOR_ZSTD);
  v1::BlobData* good = batch.add_blobs();
  *good->mutable_digest() = DigestOf(data);
  good->set_data(ZstdCodec::Compress(data, 3));
  good->set_compressor(v1::COMPRESSOR_ZSTD);
  v1::BatchUploadBlobsResponse response;
  grpc::ClientContext ctx;
  ASSERT_TRUE(cas.BatchUploadBlobs(&ctx, batch, &response).ok());
  ASSERT_EQ(response.results_size(), 4);
  EXPECT_EQ(response.results(0).status().code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(response.results(1).status().code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(response.results(2).status().code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(response.results(3).status().code(), 0);
  v1::FindMissingBlobsRequest find;
  *find.add_digests() = DigestOf(data);
  *find.add_digests() = DigestOf(std::string(64 << 10, 'b'));
  v1::FindMissingBlobsResponse missing;
  grpc::ClientContext c2;
  ASSERT_TRUE(cas.FindMissingBlobs(&c2, find, &missing).ok());
  ASSERT_EQ(missing.missing_size(), 1);
  EXPECT_EQ(missing.missing(0).hash(), DigestOf(std::string(64 << 10, 'b')).hash());
}

TEST_F(SyncTest, ChunkListsThatDoNotAddUpAreRefusedNamingThePath) {
  v1::ContentStore::Stub cas(agent_.Channel());
  v1::Workspaces::Stub ws(agent_.Channel());
  const std::string content = RandomBytes(2 << 20, 31);
  const std::vector<std::string> chunks = ChunksOf(content, home_.path() + "/scratch");
  // A list whose chunks are real but are not the file (one left out), and a
  // list naming a chunk nobody uploaded.
  v1::ChunkList short_list, unknown_list;
  for (size_t i = 1; i < chunks.size(); ++i) *short_list.add_chunks() = DigestOf(chunks[i]);
  *unknown_list.add_chunks() = DigestOf(content);
  std::vector<std::string> blobs = chunks;
  blobs.push_back(short_list.SerializeAsString());
  blobs.push_back(unknown_list.SerializeAsString());
  UploadBatches(&cas, blobs);
  for (const auto& [list, code] :
       {std::make_pair(short_list, grpc::StatusCode::INVALID_ARGUMENT),
        std::make_pair(unknown_list, grpc::StatusCode::FAILED_PRECONDITION)}) {
    v1::Manifest m;
    v1::ManifestEntry* e = m.add_entries();
    e->set_path("weights.bin");
    e->set_type(v1::ENTRY_TYPE_FILE);
    e->set_mode(0644);
    *e->mutable_digest() = DigestOf(content);
    *e->mutable_chunk_list() = DigestOf(list.SerializeAsString());
    const std::string bytes = m.SerializeAsString();
    UploadBatches(&cas, {bytes});
    v1::CommitManifestRequest commit;
    commit.set_cube_id("chunky");
    *commit.mutable_manifest_digest() = DigestOf(bytes);
    v1::CommitManifestResponse response;
    grpc::ClientContext ctx;
    grpc::Status s = ws.CommitManifest(&ctx, commit, &response);
    EXPECT_EQ(s.error_code(), code) << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr("weights.bin"));
  }
  EXPECT_FALSE(std::filesystem::exists(agent_.state_dir() + "/cubes/uid-" +
                                       std::to_string(getuid()) + "/chunky/weights.bin"));
}

TEST_F(SyncTest, FullDiskGivesClearErrorAndLeavesWorkspaceUnchanged) {
  ASSERT_EQ(geteuid(), 0u) << "this test mounts a small tmpfs as the agent's state dir; run it as "
                              "root (ctest as root)";
  agent_.Kill(SIGTERM);
  const std::string small_state = home_.path() + "/small-state";
  std::filesystem::create_directories(small_state);
  ASSERT_EQ(mount("tmpfs", small_state.c_str(), "tmpfs", 0, "size=12m"), 0) << strerror(errno);
  struct Unmount {
    std::string dir;
    ~Unmount() { umount2(dir.c_str(), MNT_DETACH); }
  } unmount{small_state};
  mlcube_test::AgentProcessOptions options;
  options.state_dir = small_state;
  mlcube_test::AgentProcess small_agent(options);
  ASSERT_TRUE(small_agent.Start());
  std::filesystem::remove(cube_ + "/workspace/data/big.bin");
  auto sync = [&](const std::string& cmd) {
    return testing::RunCommand({MLCUBE_REMOTE_BINARY, "sync", cmd, "--mlcube=" + cube_,
                                "--agent=unix://" + small_agent.socket_path()},
                               {"XDG_CACHE_HOME=" + home_.path() + "/cache"}, 60);
  };
  testing::CommandResult first = sync("push");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const std::string remote_small = small_state + "/cubes/uid-" + std::to_string(getuid()) + "/" +
                                   CubeId(cube_) + "/workspace/data/small.txt";
  ASSERT_EQ(ReadFile(remote_small), "small input\n");
  // 16 MiB does not fit in what is left of 12 MiB.
  WriteFile(cube_ + "/workspace/data/small.txt", "new content\n");
  WriteFile(cube_ + "/workspace/data/large.bin", RandomBytes(16 << 20, 5));
  testing::CommandResult full = sync("push");
  EXPECT_NE(full.exit_code, 0);
  EXPECT_THAT(full.err, HasSubstr("disk full"));
  EXPECT_EQ(ReadFile(remote_small), "small input\n");
  EXPECT_FALSE(
      std::filesystem::exists(std::filesystem::path(remote_small).parent_path() / "large.bin"));
  for (const auto& e : std::filesystem::recursive_directory_iterator(
           std::filesystem::path(remote_small).parent_path().parent_path())) {
    EXPECT_THAT(e.path().filename().string(), ::testing::Not(HasSubstr(".mlcube-sync-")));
  }
  // The failed push kept what its scan hashed: the next one does not read
  // large.bin again.
  std::string scan_cache;
  for (const auto& e :
       std::filesystem::directory_iterator(home_.path() + "/cache/mlcube-remote/scan")) {
    scan_cache += ReadFile(e.path().string());
  }
  EXPECT_THAT(scan_cache, HasSubstr("workspace/data/large.bin"));
}

}  // namespace
}  // namespace mlcube
