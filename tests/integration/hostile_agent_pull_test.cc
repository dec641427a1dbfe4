// A pull from an agent that attacks the laptop. The agent here is a fake on
// purpose: it is the attacker, serving crafted manifests and blobs over an
// in-process gRPC channel to the real SyncClient. Beside the workspace lies
// a fake $HOME; no pull may create or change anything in it (or anywhere
// else outside the workspace), and the legitimate entries of each pull
// still arrive.

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "common/digest.h"
#include "controller/sync/scan_cache.h"
#include "controller/sync/sync_client.h"
#include "mlcube_remote/v1/content_store.grpc.pb.h"
#include "mlcube_remote/v1/manifest.pb.h"
#include "mlcube_remote/v1/workspace.grpc.pb.h"
#include "tests/support/temp_dir.h"

namespace mlcube {
namespace {

namespace v1 = ::mlcube_remote::v1;
namespace fs = std::filesystem;

// What the attacker serves: blobs by hash, and the next snapshot's manifest
// (as bytes, so it can be anything), or a manifest digest that lies.
class AttackerState {
 public:
  void Put(const std::string& data) {
    absl::MutexLock lock(&mu_);
    blobs_[DigestOf(data).hash()] = data;
  }
  void SetManifest(const std::string& bytes) {
    Put(bytes);
    absl::MutexLock lock(&mu_);
    manifest_digest_ = DigestOf(bytes);
  }
  void SetManifestDigest(const v1::Digest& digest) {
    absl::MutexLock lock(&mu_);
    manifest_digest_ = digest;
  }
  v1::Digest manifest_digest() {
    absl::MutexLock lock(&mu_);
    return manifest_digest_;
  }
  bool Find(const std::string& hash, std::string* data) {
    absl::MutexLock lock(&mu_);
    auto it = blobs_.find(hash);
    if (it == blobs_.end()) return false;
    *data = it->second;
    return true;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, std::string> blobs_;
  v1::Digest manifest_digest_;
};

class FakeWorkspaces final : public v1::Workspaces::Service {
 public:
  explicit FakeWorkspaces(AttackerState* state) : state_(state) {}
  grpc::Status Snapshot(grpc::ServerContext*, const v1::SnapshotRequest*,
                        v1::SnapshotResponse* response) override {
    *response->mutable_manifest_digest() = state_->manifest_digest();
    return grpc::Status::OK;
  }

 private:
  AttackerState* state_;
};

class FakeContentStore final : public v1::ContentStore::Service {
 public:
  explicit FakeContentStore(AttackerState* state) : state_(state) {}
  grpc::Status ReadBlob(grpc::ServerContext*, const v1::ReadBlobRequest* request,
                        grpc::ServerWriter<v1::ReadBlobChunk>* writer) override {
    std::string data;
    if (!state_->Find(request->digest().hash(), &data)) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such blob");
    }
    for (size_t offset = 0; offset < data.size(); offset += 1 << 20) {
      v1::ReadBlobChunk chunk;
      chunk.set_offset(static_cast<int64_t>(offset));
      chunk.set_data(data.substr(offset, 1 << 20));
      writer->Write(chunk);
    }
    return grpc::Status::OK;
  }
  grpc::Status BatchReadBlobs(grpc::ServerContext*, const v1::BatchReadBlobsRequest* request,
                              v1::BatchReadBlobsResponse* response) override {
    for (const v1::Digest& digest : request->digests()) {
      auto* result = response->add_results();
      *result->mutable_digest() = digest;
      std::string data;
      if (!state_->Find(digest.hash(), &data)) {
        result->mutable_status()->set_code(static_cast<int>(grpc::StatusCode::NOT_FOUND));
        continue;
      }
      result->set_data(data);
    }
    return grpc::Status::OK;
  }

 private:
  AttackerState* state_;
};

// Builds a manifest the attacker sends, its file blobs stored on the way.
class ManifestBuilder {
 public:
  explicit ManifestBuilder(AttackerState* state) : state_(state) {}
  ManifestBuilder& Dir(const std::string& path) {
    v1::ManifestEntry& e = Add(path, v1::ENTRY_TYPE_DIRECTORY);
    e.set_mode(0755);
    return *this;
  }
  ManifestBuilder& File(const std::string& path, const std::string& content, uint32_t mode = 0644) {
    state_->Put(content);
    v1::ManifestEntry& e = Add(path, v1::ENTRY_TYPE_FILE);
    *e.mutable_digest() = DigestOf(content);
    e.set_mode(mode);
    return *this;
  }
  ManifestBuilder& Link(const std::string& path, const std::string& target) {
    Add(path, v1::ENTRY_TYPE_SYMLINK).set_symlink_target(target);
    return *this;
  }
  ManifestBuilder& Raw(const v1::ManifestEntry& entry) {
    entries_.push_back(entry);
    return *this;
  }
  // Sorted like a real snapshot, so only what is crafted is wrong.
  void Serve() {
    std::sort(
        entries_.begin(), entries_.end(),
        [](const v1::ManifestEntry& a, const v1::ManifestEntry& b) { return a.path() < b.path(); });
    v1::Manifest manifest;
    for (const v1::ManifestEntry& e : entries_) *manifest.add_entries() = e;
    state_->SetManifest(manifest.SerializeAsString());
  }

 private:
  v1::ManifestEntry& Add(const std::string& path, v1::EntryType type) {
    entries_.emplace_back();
    entries_.back().set_path(path);
    entries_.back().set_type(type);
    return entries_.back();
  }

  AttackerState* state_;
  std::vector<v1::ManifestEntry> entries_;
};

// Everything under a directory: type, mode, content or link target, mtime.
std::map<std::string, std::string> TreeState(const std::string& root) {
  std::map<std::string, std::string> state;
  for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::none);
       it != fs::recursive_directory_iterator(); ++it) {
    struct stat st;
    if (lstat(it->path().c_str(), &st) != 0) continue;
    std::string what = absl::StrFormat("mode=%o mtime=%d.%d ino=%d", st.st_mode, st.st_mtim.tv_sec,
                                       st.st_mtim.tv_nsec, st.st_ino);
    if (S_ISLNK(st.st_mode)) {
      absl::StrAppend(&what, " -> ", fs::read_symlink(it->path()).string());
    } else if (S_ISREG(st.st_mode)) {
      absl::StrAppend(&what, " ", testing::ReadFileContent(it->path()));
    }
    state[it->path().string()] = what;
  }
  return state;
}

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

// How a pull names what it may write.
enum class PullKind {
  kRunOutputs,  // `run`: the job's outputs, as the controller expects them
  kPaths,       // `sync pull --path=out`, and a sweep run's outputs
  kEverything,  // `sync pull` of the whole workspace
};

class HostileAgentPullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(home_ + "/.ssh");
    base_.WriteFile("home/.bash_aliases", "alias ll='ls -l'\n");
    base_.WriteFile("home/.ssh/authorized_keys", "ssh-ed25519 AAAA me@laptop\n");
    base_.WriteFile("home/secret", "the user's own file\n");
    fs::create_directories(workspace_);
    base_.WriteFile("cube/mlcube.yaml", "name: hello\n");
    base_.WriteFile("cube/workspace/data/input.csv", "a,b\n1,2\n");

    grpc::ServerBuilder builder;
    builder.SetMaxReceiveMessageSize(8 << 20);
    builder.SetMaxSendMessageSize(64 << 20);
    builder.RegisterService(&workspaces_);
    builder.RegisterService(&cas_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 << 20);
    channel_ = server_->InProcessChannel(args);
    outside_before_ = Outside();
  }

  void TearDown() override {
    EXPECT_EQ(Outside(), outside_before_) << "a pull created or changed something outside";
    server_->Shutdown();
  }

  // The fake $HOME and whatever else lies beside the cube (but the scan
  // cache, which the controller keeps in ~/.cache).
  std::map<std::string, std::string> Outside() const {
    std::map<std::string, std::string> state = TreeState(home_);
    for (const auto& entry : fs::directory_iterator(base_.path())) {
      const std::string name = entry.path().filename();
      if (name != "cube" && name != "scan-cache") state[entry.path().string()] = "beside";
    }
    for (const auto& entry : fs::directory_iterator(cube_)) {
      if (entry.path().filename() != "workspace") state[entry.path().string()] = "in the cube";
    }
    return state;
  }

  absl::StatusOr<PullStats> Pull(PullKind kind = PullKind::kRunOutputs) {
    PullOptions options;
    options.cube_root = cube_;
    options.workspace = workspace_;
    options.cube_id = "hello-12345678";
    if (kind == PullKind::kRunOutputs) {
      options.job_id = "job-1";
      options.outputs = {"out"};
      options.skip_missing = true;
    } else if (kind == PullKind::kPaths) {
      options.paths = {"out"};
    }
    ScanCache cache = ScanCache::Load(base_.path() + "/scan-cache");
    SyncClient client(channel_, &cache);
    return client.Pull(options);
  }

  ManifestBuilder Manifest() { return ManifestBuilder(&state_); }
  std::string Ws(const std::string& rel) const { return workspace_ + "/" + rel; }

  testing::TempDir base_;
  const std::string home_ = base_.path() + "/home";
  const std::string cube_ = base_.path() + "/cube";
  const std::string workspace_ = cube_ + "/workspace";
  AttackerState state_;
  FakeWorkspaces workspaces_{&state_};
  FakeContentStore cas_{&state_};
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::map<std::string, std::string> outside_before_;
};

std::string Joined(const std::vector<std::string>& lines) {
  std::string all;
  for (const std::string& line : lines) absl::StrAppend(&all, line, "\n");
  return all;
}

class LinkChainTest : public HostileAgentPullTest,
                      public ::testing::WithParamInterface<PullKind> {};

// The attack as it was seen: three plain pulls, each manifest valid on its
// own. 1: out/up -> .. (the workspace). 2: out/up/esc -> ../../home, which
// through out/up lands in the workspace and resolves to the fake $HOME.
// 3: a file through both links, over an existing file (a conflict copy).
TEST_P(LinkChainTest, LinksPlacedByEarlierPullsAreNeverFollowed) {
  Manifest().Dir("out").Link("out/up", "..").File("out/one.txt", "first\n").Serve();
  absl::StatusOr<PullStats> first = Pull(GetParam());
  ASSERT_TRUE(first.ok()) << first.status();

  Manifest().Dir("out").Link("out/up/esc", "../../home").File("out/two.txt", "second\n").Serve();
  absl::StatusOr<PullStats> second = Pull(GetParam());
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_NE(Joined(second->warnings).find("'out/up/esc'"), std::string::npos)
      << Joined(second->warnings);

  Manifest()
      .Dir("out")
      .File("out/up/esc/.bash_aliases", "alias ls='rm -rf ~'\n")
      .File("out/up/esc/planted", "x\n")
      .File("out/three.txt", "third\n")
      .Serve();
  absl::StatusOr<PullStats> third = Pull(GetParam());
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_NE(Joined(third->warnings).find("symbolic link"), std::string::npos)
      << Joined(third->warnings);

  // The link itself may stand (it points inside); nothing went through it.
  EXPECT_EQ(fs::read_symlink(Ws("out/up")).string(), "..");
  EXPECT_FALSE(Exists(Ws("esc")));
  EXPECT_FALSE(Exists(home_ + "/planted"));
  EXPECT_FALSE(Exists(home_ + "/.bash_aliases.remote"));
  EXPECT_EQ(testing::ReadFileContent(home_ + "/.bash_aliases"), "alias ll='ls -l'\n");
  EXPECT_EQ(testing::ReadFileContent(Ws("out/one.txt")), "first\n");
  EXPECT_EQ(testing::ReadFileContent(Ws("out/two.txt")), "second\n");
  EXPECT_EQ(testing::ReadFileContent(Ws("out/three.txt")), "third\n");
}

INSTANTIATE_TEST_SUITE_P(EveryKindOfPull, LinkChainTest,
                         ::testing::Values(PullKind::kRunOutputs, PullKind::kPaths,
                                           PullKind::kEverything));

TEST_F(HostileAgentPullTest, NeverEntersALocalSymlinkWhereTheManifestHasADirectory) {
  ASSERT_EQ(symlink(home_.c_str(), Ws("out").c_str()), 0);
  Manifest()
      .Dir("out")
      .Dir("out/.ssh")
      .File("out/.ssh/authorized_keys", "ssh-ed25519 EVIL attacker\n")
      .File("out/secret", "overwritten\n")
      .Serve();
  absl::StatusOr<PullStats> pulled = Pull(PullKind::kEverything);
  ASSERT_TRUE(pulled.ok()) << pulled.status();
  ASSERT_EQ(pulled->warnings.size(), 1u) << Joined(pulled->warnings);
  EXPECT_NE(pulled->warnings[0].find("'out'"), std::string::npos) << pulled->warnings[0];
  EXPECT_EQ(testing::ReadFileContent(home_ + "/secret"), "the user's own file\n");
}

TEST_F(HostileAgentPullTest, EntriesOutsideTheOutputsAreLeftOutWithOneWarning) {
  Manifest()
      .Dir("out")
      .File("out/ok.txt", "result\n")
      .Dir("runs")
      .Dir("runs/S")
      .File("runs/S/sweep.yaml", "id: S\nruns: []\n")
      .File("data/input.csv", "poisoned\n")
      .File("outx", "a sibling whose name starts like an output\n")
      .Serve();
  absl::StatusOr<PullStats> pulled = Pull(PullKind::kRunOutputs);
  ASSERT_TRUE(pulled.ok()) << pulled.status();
  EXPECT_EQ(testing::ReadFileContent(Ws("out/ok.txt")), "result\n");
  EXPECT_FALSE(Exists(Ws("runs")));
  EXPECT_FALSE(Exists(Ws("outx")));
  EXPECT_EQ(testing::ReadFileContent(Ws("data/input.csv")), "a,b\n1,2\n");
  EXPECT_FALSE(Exists(Ws("data/input.csv.remote")));
  ASSERT_EQ(pulled->warnings.size(), 1u) << Joined(pulled->warnings);
  EXPECT_NE(pulled->warnings[0].find("'runs/S/sweep.yaml'"), std::string::npos);
  EXPECT_NE(pulled->warnings[0].find("'data/input.csv'"), std::string::npos);
  EXPECT_TRUE(pulled->conflicts.empty());
}

v1::ManifestEntry Entry(const std::string& path, v1::EntryType type, uint32_t mode = 0644) {
  v1::ManifestEntry e;
  e.set_path(path);
  e.set_type(type);
  e.set_mode(mode);
  return e;
}

TEST_F(HostileAgentPullTest, BadNamesAndTypesAreLeftOutAndTheRestArrives) {
  v1::ManifestEntry device = Entry("out/dev", static_cast<v1::EntryType>(7));
  v1::ManifestEntry char_device = Entry("out/chr", v1::ENTRY_TYPE_DIRECTORY, S_IFCHR | 0666);
  v1::ManifestEntry fifo = Entry("out/fifo", v1::ENTRY_TYPE_FILE, S_IFIFO | 0644);
  *fifo.mutable_digest() = DigestOf("");
  v1::ManifestEntry absolute = Entry("/tmp/abs", v1::ENTRY_TYPE_DIRECTORY);
  v1::ManifestEntry dotdot = Entry("../home/x", v1::ENTRY_TYPE_DIRECTORY);
  v1::ManifestEntry inner_dotdot = Entry("out/../../home/y", v1::ENTRY_TYPE_DIRECTORY);
  Manifest()
      .Raw(absolute)
      .Raw(dotdot)
      .Raw(inner_dotdot)
      .Raw(device)
      .Raw(char_device)
      .Raw(fifo)
      .Dir("out")
      .File("out/ok.txt", "result\n")
      .File("out/\x1b]0;owned\x07title", "terminal escape\n")
      .File("out/line\nbreak", "newline\n")
      .Link("out/outside", "../../../home")
      .File("out/.mlcube-pull-3.tmp", "a temp name\n")
      .Serve();
  absl::StatusOr<PullStats> pulled = Pull(PullKind::kRunOutputs);
  ASSERT_TRUE(pulled.ok()) << pulled.status();
  EXPECT_EQ(testing::ReadFileContent(Ws("out/ok.txt")), "result\n");
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(Ws("out"))) names.push_back(e.path().filename());
  EXPECT_EQ(names, std::vector<std::string>{"ok.txt"});
  ASSERT_EQ(pulled->warnings.size(), 1u) << Joined(pulled->warnings);
  const std::string& warning = pulled->warnings[0];
  EXPECT_NE(warning.find("left out what the host listed beyond this pull: 10 entries"),
            std::string::npos)
      << warning;
  EXPECT_EQ(warning.find('\n'), std::string::npos);
  EXPECT_EQ(warning.find('\x1b'), std::string::npos);
  EXPECT_NE(warning.find("\\x1b"), std::string::npos) << warning;
}

TEST_F(HostileAgentPullTest, PlantedLocalFilesAreReplacedNeverWrittenThrough) {
  fs::create_directories(Ws("out"));
  // A FIFO at the temp name the pull uses for out/data.bin (entry 2), a
  // hard link to a file of the user's, a link where a conflict copy goes.
  ASSERT_EQ(mkfifo(Ws("out/.mlcube-pull-2.tmp").c_str(), 0644), 0);
  ASSERT_EQ(link((home_ + "/secret").c_str(), Ws("out/hard").c_str()), 0);
  base_.WriteFile("cube/workspace/out/mine.txt", "changed here\n");
  ASSERT_EQ(symlink("../../../home/secret", Ws("out/mine.txt.remote").c_str()), 0);
  Manifest()
      .Dir("out")
      .File("out/data.bin", std::string(4096, 'd'))
      .File("out/hard", "new content\n")
      .File("out/mine.txt", "the host's version\n")
      .File("out/tool", "#!/bin/sh\n", 06755)
      .Serve();
  absl::StatusOr<PullStats> pulled = Pull(PullKind::kRunOutputs);
  ASSERT_TRUE(pulled.ok()) << pulled.status();
  struct stat st;
  ASSERT_EQ(lstat(Ws("out/data.bin").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode)) << std::oct << st.st_mode;
  EXPECT_EQ(testing::ReadFileContent(Ws("out/data.bin")), std::string(4096, 'd'));
  EXPECT_FALSE(Exists(Ws("out/.mlcube-pull-2.tmp")));
  EXPECT_EQ(testing::ReadFileContent(home_ + "/secret"), "the user's own file\n");
  EXPECT_EQ(testing::ReadFileContent(Ws("out/mine.txt")), "changed here\n");
  ASSERT_EQ(lstat(Ws("out/mine.txt.remote").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(testing::ReadFileContent(Ws("out/mine.txt.remote")), "the host's version\n");
  ASSERT_EQ(lstat(Ws("out/tool").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u) << std::oct << st.st_mode;
}

TEST_F(HostileAgentPullTest, AManifestDigestBeyondMemoryIsRefusedBeforeReading) {
  v1::Digest huge = DigestOf("x");
  huge.set_size_bytes(int64_t{1} << 50);
  state_.SetManifestDigest(huge);
  absl::StatusOr<PullStats> pulled = Pull(PullKind::kEverything);
  ASSERT_FALSE(pulled.ok());
  EXPECT_EQ(pulled.status().code(), absl::StatusCode::kFailedPrecondition) << pulled.status();
}

TEST_F(HostileAgentPullTest, TooManyEntriesAreRefusedBeforeAnythingIsPlaced) {
  v1::Manifest manifest;
  for (int i = 0; i <= 1'000'000; ++i) {
    v1::ManifestEntry* e = manifest.add_entries();
    e->set_path(absl::StrFormat("zz/%07d", i));
    e->set_type(v1::ENTRY_TYPE_DIRECTORY);
  }
  state_.SetManifest(manifest.SerializeAsString());
  manifest.Clear();
  absl::StatusOr<PullStats> pulled = Pull(PullKind::kEverything);
  ASSERT_FALSE(pulled.ok());
  EXPECT_NE(pulled.status().message().find("1000001 entries"), std::string::npos)
      << pulled.status();
  EXPECT_FALSE(Exists(Ws("zz")));
}

TEST_F(HostileAgentPullTest, ManyEntriesOutsideTheOutputsMakeOneShortWarning) {
  ManifestBuilder builder = Manifest();
  builder.Dir("out").File("out/ok.txt", "result\n");
  for (int i = 0; i < 200'000; ++i) builder.Dir(absl::StrFormat("junk/%06d", i));
  builder.Serve();
  absl::StatusOr<PullStats> pulled = Pull(PullKind::kRunOutputs);
  ASSERT_TRUE(pulled.ok()) << pulled.status();
  EXPECT_EQ(testing::ReadFileContent(Ws("out/ok.txt")), "result\n");
  EXPECT_FALSE(Exists(Ws("junk")));
  ASSERT_EQ(pulled->warnings.size(), 1u);
  EXPECT_LT(pulled->warnings[0].size(), 4096u);
  EXPECT_NE(pulled->warnings[0].find("and 199990 more"), std::string::npos) << pulled->warnings[0];
}

}  // namespace
}  // namespace mlcube
