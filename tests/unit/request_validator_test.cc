#include "agent/validation/request_validator.h"

#include <gtest/gtest.h>

#include "common/digest.h"

namespace mlcube {
namespace {

namespace v1 = ::mlcube_remote::v1;

v1::SubmitJobRequest GoodSubmit() {
  v1::SubmitJobRequest r;
  r.set_cube_id("hello-1a2b");
  r.set_action(v1::JOB_ACTION_RUN);
  r.add_tasks("train");
  (*r.mutable_env())["HTTP_PROXY"] = "http://proxy:3128";
  (*r.mutable_overrides())["docker.image"] = "x:1";
  r.set_gpus("device=0,1");
  return r;
}

void ExpectRefused(const absl::Status& s, const std::string& field) {
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_EQ(std::string(s.message()).rfind(field, 0), 0u) << s;
}

TEST(RequestValidatorTest, SubmitFieldsAreCheckedAndNamed) {
  EXPECT_TRUE(ValidateSubmitJobRequest(GoodSubmit()).ok());
  v1::SubmitJobRequest r = GoodSubmit();
  r.set_cube_id("../alice");
  ExpectRefused(ValidateSubmitJobRequest(r), "cube_id");
  r = GoodSubmit();
  r.add_tasks("a/b");
  ExpectRefused(ValidateSubmitJobRequest(r), "tasks");
  r = GoodSubmit();
  (*r.mutable_env())["BAD\nNAME"] = "x";
  ExpectRefused(ValidateSubmitJobRequest(r), "env");
  r = GoodSubmit();
  (*r.mutable_env())["OK"] = std::string("a\0b", 3);
  ExpectRefused(ValidateSubmitJobRequest(r), "env.OK");
  r = GoodSubmit();
  (*r.mutable_caller_env())["HF_TOKEN"] = "hf_x";
  EXPECT_TRUE(ValidateSubmitJobRequest(r).ok());
  (*r.mutable_caller_env())["LD_PRELOAD=/x"] = "y";
  ExpectRefused(ValidateSubmitJobRequest(r), "caller_env");
  r = GoodSubmit();
  r.add_caller_env_withheld("HF_TOKEN");  // the agent's own mark
  ExpectRefused(ValidateSubmitJobRequest(r), "caller_env_withheld");
  for (const char* dir : {"../configs", "../../a/b"}) {
    r = GoodSubmit();
    (*r.mutable_input_trees())[dir] = "configs-1234";
    EXPECT_TRUE(ValidateSubmitJobRequest(r).ok()) << dir;
  }
  for (const char* dir : {"configs", "/etc", "../", "../a/../../b", "../a/./b", "..//a"}) {
    r = GoodSubmit();
    (*r.mutable_input_trees())[dir] = "configs-1234";
    ExpectRefused(ValidateSubmitJobRequest(r), "input_trees");
  }
  r = GoodSubmit();
  (*r.mutable_input_trees())["../configs"] = "../x";
  ExpectRefused(ValidateSubmitJobRequest(r), "input_trees");
  r = GoodSubmit();
  r.set_gpus("all; rm -rf /");
  ExpectRefused(ValidateSubmitJobRequest(r), "gpus");
  r = GoodSubmit();
  r.set_platform_file("/etc/passwd");
  ExpectRefused(ValidateSubmitJobRequest(r), "platform_file");
  r = GoodSubmit();
  (*r.mutable_overrides())["docker.image=x"] = "y";
  ExpectRefused(ValidateSubmitJobRequest(r), "overrides");
  r = GoodSubmit();
  r.set_runtime(static_cast<v1::Runtime>(99));
  ExpectRefused(ValidateSubmitJobRequest(r), "runtime");
  for (const char* bad : {"/etc/passwd", "out/../../x.yaml", "out//x"}) {
    r = GoodSubmit();
    r.set_metrics_path(bad);
    ExpectRefused(ValidateSubmitJobRequest(r), "metrics_path");
  }
}

TEST(RequestValidatorTest, BatchesNameTheRunAndItsField) {
  v1::SubmitJobsRequest batch;
  ExpectRefused(ValidateSubmitJobsRequest(batch), "runs: a batch needs at least one run");
  for (int i = 0; i < 3; ++i) *batch.add_runs() = GoodSubmit();
  batch.set_parallel(2);
  EXPECT_TRUE(ValidateSubmitJobsRequest(batch).ok());
  batch.mutable_runs(2)->set_gpus("all; rm -rf /");
  ExpectRefused(ValidateSubmitJobsRequest(batch), "runs[2]: gpus");
  *batch.mutable_runs(2) = GoodSubmit();
  batch.mutable_runs(1)->set_batch_id("forged");  // only the agent sets it
  ExpectRefused(ValidateSubmitJobsRequest(batch), "runs[1]: batch_id");
  *batch.mutable_runs(1) = GoodSubmit();
  batch.set_parallel(-1);
  ExpectRefused(ValidateSubmitJobsRequest(batch), "parallel");
  batch.set_parallel(0);
  for (int i = 3; i <= RequestLimits::kMaxBatchRuns; ++i) *batch.add_runs() = GoodSubmit();
  ExpectRefused(ValidateSubmitJobsRequest(batch), "runs: more than 1000");
}

TEST(RequestValidatorTest, RefusalsQuoteShortAndPrintable) {
  v1::SubmitJobRequest r = GoodSubmit();
  r.set_cube_id(std::string(5000, 'x') + "\x1b[31m");
  const absl::Status s = ValidateSubmitJobRequest(r);
  EXPECT_LT(s.message().size(), 200u) << s;
  v1::SnapshotRequest snap;
  snap.set_cube_id("c");
  snap.add_paths("out/\x1b]0;owned\x07");
  snap.add_paths("../../etc");
  const absl::Status p = ValidateSnapshotRequest(snap);
  ExpectRefused(p, "paths");
  EXPECT_EQ(std::string(p.message()).find('\x1b'), std::string::npos) << p;
}

TEST(RequestValidatorTest, BlobRequestsStayWithinTheirLimits) {
  v1::BatchReadBlobsRequest read;
  *read.add_digests() = DigestOf("x");
  EXPECT_TRUE(ValidateBatchReadBlobsRequest(read).ok());
  v1::Digest big = DigestOf("y");
  big.set_size_bytes(RequestLimits::kMaxPayloadBytes);
  *read.add_digests() = big;
  ExpectRefused(ValidateBatchReadBlobsRequest(read), "digests");
  v1::UploadChunk chunk;
  *chunk.mutable_digest() = DigestOf("abc");
  chunk.set_offset(4);
  ExpectRefused(ValidateUploadChunk(chunk, true), "offset");
  v1::WatchJobRequest watch;
  watch.set_job_id("../../x");
  EXPECT_EQ(ValidateWatchJobRequest(watch).code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace mlcube

namespace mlcube {
namespace {

TEST(RequestValidatorBoundsTest, ReadBlobOffsetPlusLimitMustNotOverflow) {
  v1::ReadBlobRequest r;
  *r.mutable_digest() = DigestOf("some content");
  r.set_offset(4);
  r.set_limit(int64_t{0x7fffffffffffffff});
  absl::Status s = ValidateReadBlobRequest(r);
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange) << s;
  EXPECT_NE(s.message().find("overflows"), std::string::npos) << s;
  r.set_limit(int64_t{0x7fffffffffffffff} - 4);
  EXPECT_TRUE(ValidateReadBlobRequest(r).ok());
}

TEST(RequestValidatorBoundsTest, ManifestLargerThanTheLimitIsRefusedBeforeItIsRead) {
  v1::CommitManifestRequest r;
  r.set_cube_id("hello-1a2b");
  *r.mutable_manifest_digest() = DigestOf("m");
  EXPECT_TRUE(ValidateCommitManifestRequest(r).ok());
  r.mutable_manifest_digest()->set_size_bytes(int64_t{3} << 29);  // 1.5 GiB
  absl::Status s = ValidateCommitManifestRequest(r);
  ExpectRefused(s, "manifest_digest");
  EXPECT_NE(s.message().find("the limit is 67108864 bytes"), std::string::npos) << s;
}

}  // namespace
}  // namespace mlcube
