#include "agent/config/agent_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent/runtimes/runtime_inventory.h"
#include "agent/server/agent_server.h"

namespace mlcube {
namespace {

TEST(AgentConfigTest, ParsesEveryKey) {
  auto config = ParseAgentConfig(R"(
listen: [unix:///run/a.sock, 127.0.0.1:7443]
state_dir: /srv/agent
image_dir: /srv/images
max_concurrent_jobs: 4
log_max_bytes: 1048576
runtimes:
  podman: {enabled: false}
  apptainer: {binary: /opt/apptainer/bin/apptainer}
)");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen.size(), 2u);
  EXPECT_EQ(config->state_dir, "/srv/agent");
  EXPECT_EQ(config->EffectiveImageDir(), "/srv/images");
  EXPECT_EQ(config->max_concurrent_jobs, 4);
  EXPECT_EQ(config->limits.job_log_bytes, 1048576);
  EXPECT_FALSE(config->runtimes.at("podman").enabled);
  EXPECT_EQ(config->runtimes.at("apptainer").binary, "/opt/apptainer/bin/apptainer");
  EXPECT_EQ(config->runtimes.at("docker").binary, "docker");
}

TEST(AgentConfigTest, DockerIsFollowedThroughItsSocketUnlessApiSocketIsEmpty) {
  auto defaults = ParseAgentConfig("");
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->runtimes.at("docker").api_socket, "/var/run/docker.sock");
  EXPECT_EQ(defaults->runtimes.at("podman").api_socket, "");
  auto set = ParseAgentConfig("runtimes: {docker: {api_socket: \"\"}}");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->runtimes.at("docker").api_socket, "");
  auto relative = ParseAgentConfig("runtimes: {docker: {api_socket: docker.sock}}");
  ASSERT_FALSE(relative.ok());
  EXPECT_THAT(std::string(relative.status().message()),
              ::testing::HasSubstr("runtimes.docker.api_socket"));
  // Podman's compatible API starts a created container on attach.
  for (const char* other : {"podman", "apptainer"}) {
    auto refused =
        ParseAgentConfig(std::string("runtimes: {") + other + ": {api_socket: /x.sock}}");
    ASSERT_FALSE(refused.ok()) << other;
    EXPECT_THAT(
        std::string(refused.status().message()),
        ::testing::HasSubstr(std::string("runtimes.") + other + ".api_socket: unknown key"));
  }
}

TEST(AgentConfigTest, DefaultsWhenEmpty) {
  auto config = ParseAgentConfig("");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen, std::vector<std::string>{"unix:///run/mlcube-agent/agent.sock"});
  EXPECT_EQ(config->EffectiveImageDir(), "/var/lib/mlcube-agent/images");
}

TEST(AgentConfigTest, LogFormatIsOneOfTheNamedOnes) {
  EXPECT_EQ(ParseAgentConfig("")->log_format, "auto");
  EXPECT_EQ(ParseAgentConfig("log_format: json")->log_format, "json");
  auto bad = ParseAgentConfig("log_format: xml");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), ::testing::HasSubstr("log_format"));
  EXPECT_THAT(std::string(bad.status().message()),
              ::testing::HasSubstr("expected auto, text, json or journal"));
}

TEST(AgentConfigTest, PerIdentityLimits) {
  auto defaults = ParseAgentConfig("");
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->limits.running_jobs, 0);
  EXPECT_EQ(defaults->limits.stored_bytes, 0);
  EXPECT_EQ(defaults->limits.open_streams, 64);
  EXPECT_EQ(defaults->limits.queued_jobs, 1000);
  EXPECT_EQ(defaults->limits.connections, 256);
  EXPECT_EQ(defaults->limits.idle_connection_seconds, 300);
  auto connections = ParseAgentConfig("limits: {connections: 0, idle_connection_seconds: 60}");
  ASSERT_TRUE(connections.ok()) << connections.status();
  EXPECT_EQ(connections->limits.connections, 0);
  EXPECT_EQ(connections->limits.idle_connection_seconds, 60);
  auto config = ParseAgentConfig(
      "limits: {running_jobs: 2, queued_jobs: 5, stored_bytes: 50G, open_streams: 0}");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->limits.running_jobs, 2);
  EXPECT_EQ(config->limits.queued_jobs, 5);
  EXPECT_EQ(defaults->limits.finished_jobs_kept_days, 30);
  EXPECT_EQ(defaults->limits.finished_jobs_kept, 1000);
  auto kept = ParseAgentConfig("limits: {finished_jobs_kept_days: 7, finished_jobs_kept: 0}");
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_EQ(kept->limits.finished_jobs_kept_days, 7);
  EXPECT_EQ(kept->limits.finished_jobs_kept, 0);
  EXPECT_EQ(defaults->limits.job_log_bytes, int64_t{256} << 20);
  EXPECT_EQ(ParseAgentConfig("limits: {job_log_bytes: 1G}")->limits.job_log_bytes, 1 << 30);
  EXPECT_EQ(config->limits.stored_bytes, int64_t{50} << 30);
  EXPECT_EQ(config->limits.open_streams, 0);
  EXPECT_EQ(ParseAgentConfig("limits: {stored_bytes: 1048576}")->limits.stored_bytes, 1 << 20);
  EXPECT_EQ(ParseAgentConfig("limits: {stored_bytes: 512M}")->limits.stored_bytes, 512 << 20);
}

TEST(AgentConfigTest, HostAccessIsNoneByDefault) {
  auto defaults = ParseAgentConfig("");
  ASSERT_TRUE(defaults.ok());
  EXPECT_FALSE(defaults->allow.allow_host_network);
  EXPECT_FALSE(defaults->allow.allow_host_ipc);
  EXPECT_FALSE(defaults->allow.allow_host_pid);
  EXPECT_FALSE(defaults->allow.allow_published_ports);
  EXPECT_TRUE(defaults->allow.bind_roots.empty());
}

TEST(AgentConfigTest, HostAccessTheAdminAllows) {
  auto config = ParseAgentConfig(R"(
allow:
  host_network: true
  host_ipc: yes
  host_pid: false
  published_ports: true
  bind_roots: [{path: /datasets, writable: false}, {path: /scratch/shared, writable: true}]
)");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->allow.allow_host_network);
  EXPECT_TRUE(config->allow.allow_host_ipc);
  EXPECT_FALSE(config->allow.allow_host_pid);
  EXPECT_TRUE(config->allow.allow_published_ports);
  ASSERT_EQ(config->allow.bind_roots.size(), 2u);
  EXPECT_EQ(config->allow.bind_roots[0].host_dir, "/datasets");
  EXPECT_FALSE(config->allow.bind_roots[0].writable);
  EXPECT_EQ(config->allow.bind_roots[1].host_dir, "/scratch/shared");
  EXPECT_TRUE(config->allow.bind_roots[1].writable);
}

TEST(AgentConfigTest, BadHostAccessIsNamed) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"allow: yes", "agent.yaml: allow: expected a mapping"},
      {"allow: {host_netwrk: true}", "agent.yaml: allow.host_netwrk: unknown key"},
      {"allow: {host_pid: maybe}", "agent.yaml: allow.host_pid: expected true or false"},
      {"allow: {bind_roots: /data}", "agent.yaml: allow.bind_roots: expected a list"},
      {"allow: {bind_roots: [{writable: true}]}", "allow.bind_roots[0].path: missing"},
      {"allow: {bind_roots: [{path: /d, mode: ro}]}", "allow.bind_roots[0].mode: unknown key"},
      {"allow: {bind_roots: [{path: /d, writable: 2}]}",
       "allow.bind_roots[0].writable: expected true or false"},
      {"allow: {bind_roots: [{path: /a}, {path: data}]}",
       "allow.bind_roots[1].path: 'data': expected an absolute path"},
      {"allow: {bind_roots: [{path: /a/../etc}]}", "allow.bind_roots[0].path: '/a/../etc'"},
      {"allow: {bind_roots: [{path: /a:/b}]}", "allow.bind_roots[0].path: '/a:/b'"},
      {"allow: {bind_roots: [{path: /}]}", "allow.bind_roots[0].path: '/' would let cubes"},
      {"allow: {bind_roots: [{path: /var/lib}]}",
       "allow.bind_roots[0].path: '/var/lib' overlaps the agent's own directory"},
      {"state_dir: /srv/a\nallow: {bind_roots: [{path: /srv/a/commits}]}",
       "overlaps the agent's own directory /srv/a"},
      {"image_dir: /img\nallow: {bind_roots: [{path: /img}]}",
       "overlaps the agent's own directory /img"},
  };
  for (const auto& [yaml, expected] : cases) {
    auto config = ParseAgentConfig(yaml);
    ASSERT_FALSE(config.ok()) << yaml;
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << yaml;
    EXPECT_NE(config.status().message().find(expected), std::string::npos)
        << yaml << " -> " << config.status().message();
    EXPECT_EQ(std::string(config.status().message()).find('\n'), std::string::npos);
  }
}

TEST(AgentConfigTest, UnknownKeysAndBadValuesAreNamed) {
  struct Case {
    const char* yaml;
    const char* message;
  } cases[] = {
      {"max_concurent_jobs: 3", "agent.yaml: max_concurent_jobs: unknown key"},
      {"max_concurrent_jobs: -1", "agent.yaml: max_concurrent_jobs: expected a positive integer"},
      {"log_max_bytes: lots", "agent.yaml: log_max_bytes: expected a byte count"},
      {"limits: {job_log_bytes: 1K}", "agent.yaml: limits.job_log_bytes: at least 4096"},
      {"runtimes: {rkt: {}}", "agent.yaml: runtimes.rkt: unknown runtime"},
      {"runtimes: {docker: {enabled: maybe}}",
       "agent.yaml: runtimes.docker.enabled: expected true or false"},
      {"runtimes: {docker: {path: x}}", "agent.yaml: runtimes.docker.path: unknown key"},
      {"state_dir: relative/dir", "state_dir: 'relative/dir': expected an absolute path"},
      {"listen: [unix://relative]", "listen: 'unix://relative'"},
      {"listen: [nohostport]", "listen: 'nohostport'"},
      {"listen: [': bad", "agent.yaml:1:16: invalid YAML"},
      {"limits: {stored_bytes: 5X}", "agent.yaml: limits.stored_bytes: expected a byte count"},
      {"limits: {stored_bytes: -1}", "agent.yaml: limits.stored_bytes: expected a byte count"},
      {"limits: {stored_bytes: 99999999999T}", "limits.stored_bytes: expected a byte count"},
      {"limits: {running_jobs: two}", "agent.yaml: limits.running_jobs: expected an integer"},
      {"limits: {open_streams: -3}", "agent.yaml: limits.open_streams: expected an integer"},
      {"limits: {queued_jobs: x}", "agent.yaml: limits.queued_jobs: expected an integer"},
      {"limits: {jobs: 1}", "agent.yaml: limits.jobs: unknown key"},
      {"limits: 5", "agent.yaml: limits: expected a mapping"},
      {"slurm: {shared: /x}",
       "agent.yaml: slurm.shared: unknown key (expected shared_dir or stage_roots)"},
      {"slurm: {shared_dir: rel}", "slurm.shared_dir: 'rel': expected an absolute path"},
      {"slurm: 5", "agent.yaml: slurm: expected a mapping"},
      {"slurm: {stage_roots: [rel]}", "agent.yaml: slurm.stage_roots: expected absolute paths"},
  };
  for (const Case& c : cases) {
    auto config = ParseAgentConfig(c.yaml);
    ASSERT_FALSE(config.ok()) << c.yaml;
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(std::string(config.status().message()).find(c.message), std::string::npos)
        << c.yaml << " -> " << config.status();
  }
}

TEST(AgentConfigTest, SlurmSharedDirMustHoldStateAndImages) {
  auto config = ParseAgentConfig("slurm: {shared_dir: /tmp}\nstate_dir: /tmp/agent-state\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->slurm_shared_dir, "/tmp");
  std::string note;
  EXPECT_TRUE(CheckSlurmSharedDir(*config, &note).ok());
  config->image_dir = "/var/lib/sif";
  auto outside = CheckSlurmSharedDir(*config, &note);
  EXPECT_EQ(outside.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(outside.message())
                .find("image_dir: '/var/lib/sif' is outside slurm."
                      "shared_dir '/tmp'"),
            std::string::npos)
      << outside;
  config->image_dir = "";
  config->state_dir = "/tmp/100%";
  EXPECT_FALSE(CheckSlurmSharedDir(*config, &note).ok());
  // In memory on this node: refused, saying how to set it.
  config->slurm_shared_dir = "/dev/shm";
  config->state_dir = "/dev/shm/agent";
  auto in_memory = CheckSlurmSharedDir(*config, &note);
  EXPECT_EQ(in_memory.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(in_memory.message()).find("$SCRATCH/mlcube"), std::string::npos);
}

TEST(AgentConfigTest, LoopbackDetection) {
  EXPECT_TRUE(IsLoopbackAddress("127.0.0.1:80"));
  EXPECT_TRUE(IsLoopbackAddress("127.1.2.3:0"));
  EXPECT_TRUE(IsLoopbackAddress("localhost:7443"));
  EXPECT_TRUE(IsLoopbackAddress("[::1]:7443"));
  EXPECT_FALSE(IsLoopbackAddress("0.0.0.0:7443"));
  EXPECT_FALSE(IsLoopbackAddress("10.0.0.1:7443"));
  EXPECT_FALSE(IsLoopbackAddress("[::]:7443"));
  EXPECT_FALSE(IsLoopbackAddress("gpu01:7443"));
}

TEST(RuntimeInventoryTest, ParsesVersionLines) {
  std::string name, version;
  ASSERT_TRUE(
      ParseRuntimeVersion("Docker version 20.10.24+dfsg1, build 297e128\n", &name, &version));
  EXPECT_EQ(name, "docker");
  EXPECT_EQ(version, "20.10.24+dfsg1");
  ASSERT_TRUE(ParseRuntimeVersion("apptainer version 1.4.5\n", &name, &version));
  EXPECT_EQ(name, "apptainer");
  EXPECT_EQ(version, "1.4.5");
  ASSERT_TRUE(ParseRuntimeVersion("singularity-ce version 3.11.4-jammy\n", &name, &version));
  EXPECT_EQ(name, "singularity");
  EXPECT_EQ(version, "3.11.4-jammy");
  ASSERT_TRUE(ParseRuntimeVersion("podman version 4.3.1\n", &name, &version));
  EXPECT_EQ(name, "podman");
  EXPECT_FALSE(ParseRuntimeVersion("bash: docker: command not found", &name, &version));
}

}  // namespace
}  // namespace mlcube

namespace mlcube {
namespace {

TEST(AgentConfigGpusTest, DevicesBinaryAndSamplingAreReadAndBadValuesNamed) {
  auto config = ParseAgentConfig(
      "gpus: {devices: [1, 0], nvidia_smi: /opt/nv/nvidia-smi, "
      "sample_seconds: 2}\n");
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_TRUE(config->gpus.devices.has_value());
  EXPECT_EQ(*config->gpus.devices, (std::vector<int>{1, 0}));
  EXPECT_EQ(config->gpus.nvidia_smi, "/opt/nv/nvidia-smi");
  EXPECT_EQ(config->gpus.sample_seconds, 2);
  auto none = ParseAgentConfig("gpus: {devices: []}\n");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->gpus.devices->empty());
  EXPECT_FALSE(ParseAgentConfig("").value().gpus.devices.has_value());
  for (const auto& [yaml, named] : std::vector<std::pair<std::string, std::string>>{
           {"gpus: {devices: [0, 0]}", "gpus.devices[1]: GPU 0 is listed twice"},
           {"gpus: {devices: [-1]}", "gpus.devices[0]"},
           {"gpus: {devices: 0}", "gpus.devices"},
           {"gpus: {sample_seconds: 0}", "gpus.sample_seconds"},
           {"gpus: {count: 2}", "gpus.count: unknown key"}}) {
    auto bad = ParseAgentConfig(yaml);
    ASSERT_FALSE(bad.ok()) << yaml;
    EXPECT_NE(bad.status().message().find(named), std::string::npos) << bad.status().message();
  }
}

}  // namespace
}  // namespace mlcube
