#include "controller/hosts/hosts_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include "tests/support/temp_dir.h"

namespace mlcube {
namespace {

using ::mlcube::testing::TempDir;
using ::testing::HasSubstr;

const char kExample[] = R"(
default_host: local
hosts:
  local:
    address: unix:///run/mlcube-agent/agent.sock
    runtime: docker
  gpu01:
    address: gpu01.example.org:7443
    runtime: singularity
    singularity: {image_dir: /scratch/mlcube/sif, build_args: --fakeroot}
    env: {http_proxy: "${oc.env:MLCUBE_TEST_PROXY}", unset: "${oc.env:MLCUBE_TEST_UNSET_VAR}"}
    tls: {ca: certs/ca.pem, cert: certs/me.pem, key: /abs/me.key}
  hpc:
    ssh: {host: login.hpc, port: 2222, user: me}
    runtime: singularity
exclude: ["*.ckpt.tmp"]
)";

std::string ErrorOf(const std::string& text) {
  absl::StatusOr<HostsFile> file = ParseHostsFile(text, "/etc/hosts.yaml");
  EXPECT_FALSE(file.ok()) << text;
  return file.ok() ? "" : std::string(file.status().message());
}

TEST(HostsFileTest, ParsesTheDocumentedExample) {
  ::setenv("MLCUBE_TEST_PROXY", "http://proxy:3128", 1);
  ::unsetenv("MLCUBE_TEST_UNSET_VAR");
  absl::StatusOr<HostsFile> file = ParseHostsFile(kExample, "/home/me/.config/hosts.yaml");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->default_host, "local");
  EXPECT_THAT(file->exclude, ::testing::ElementsAre("*.ckpt.tmp"));
  absl::StatusOr<HostEntry> gpu = file->Find("gpu01");
  ASSERT_TRUE(gpu.ok()) << gpu.status();
  EXPECT_EQ(gpu->runtime, "singularity");
  EXPECT_EQ(gpu->platform_defaults["singularity"]["image_dir"].Scalar(), "/scratch/mlcube/sif");
  EXPECT_EQ(gpu->env.at("http_proxy"), "http://proxy:3128");
  EXPECT_EQ(gpu->env.count("unset"), 0u);  // unset variables are not passed
  EXPECT_TRUE(gpu->has_tls);
  EXPECT_EQ(gpu->tls.ca, "/home/me/.config/certs/ca.pem");
  EXPECT_EQ(gpu->tls.key, "/abs/me.key");
  absl::StatusOr<HostEntry> hpc = file->Find("hpc");
  ASSERT_TRUE(hpc.ok());
  EXPECT_TRUE(hpc->has_ssh);
  EXPECT_EQ(hpc->ssh.port, 2222);
  // No agent_socket: the user's own agent, found when connecting.
  EXPECT_EQ(hpc->agent_socket, "");
  absl::StatusOr<HostEntry> fallback = file->Find("");
  ASSERT_TRUE(fallback.ok());
  EXPECT_EQ(fallback->name, "local");
}

// Where `agent install` finds bundles: relative to the hosts file, ~ is HOME.
TEST(HostsFileTest, AgentBundleDirIsAPath) {
  absl::StatusOr<HostsFile> file =
      ParseHostsFile("agent_bundle_dir: bundles\nhosts: {a: {ssh: {host: h}}}", "/etc/m/h.yaml");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->agent_bundle_dir, "/etc/m/bundles");
  EXPECT_EQ(file->Find("a")->agent_socket, "");
  EXPECT_THAT(ErrorOf("agent_bundle_dir: [a]\nhosts: {a: {ssh: {host: h}}}"),
              HasSubstr("agent_bundle_dir"));
}

TEST(HostsFileTest, UnknownHostListsKnownOnes) {
  absl::StatusOr<HostsFile> file = ParseHostsFile(kExample, "h.yaml");
  ASSERT_TRUE(file.ok());
  absl::StatusOr<HostEntry> missing = file->Find("gpu99");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.status().message()),
              HasSubstr("no host named 'gpu99' in h.yaml (hosts: gpu01, hpc, local)"));
}

TEST(HostsFileTest, SchedulerAndSlurmSettings) {
  absl::StatusOr<HostsFile> file = ParseHostsFile(
      "hosts:\n  hpc:\n    address: 'unix:///s.sock'\n    runtime: singularity\n"
      "    scheduler: slurm\n    slurm: {partition: gpu, time: '02:00:00', cpus_per_task: 8}\n",
      "h.yaml");
  ASSERT_TRUE(file.ok()) << file.status();
  const HostEntry& hpc = file->hosts.at("hpc");
  EXPECT_EQ(hpc.scheduler, "slurm");
  EXPECT_EQ(hpc.slurm.at("partition"), "gpu");
  EXPECT_EQ(hpc.slurm.at("time"), "02:00:00");
  EXPECT_EQ(hpc.slurm.at("cpus_per_task"), "8");
  EXPECT_EQ(ErrorOf("hosts: {a: {address: 'x:1', scheduler: pbs}}"),
            "/etc/hosts.yaml: hosts.a.scheduler: expected local or slurm, got 'pbs'");
  EXPECT_THAT(ErrorOf("hosts: {a: {address: 'x:1', scheduler: slurm, slurm: {tme: 5}}}"),
              HasSubstr("/etc/hosts.yaml: hosts.a.slurm.tme: unknown key (expected partition"));
  EXPECT_THAT(ErrorOf("hosts: {a: {address: 'x:1', scheduler: slurm, slurm: {mem: lots}}}"),
              HasSubstr("/etc/hosts.yaml: hosts.a.slurm.mem: bad value 'lots'"));
  EXPECT_THAT(ErrorOf("hosts: {a: {address: 'x:1', slurm: {time: 5}}}"),
              HasSubstr("hosts.a.slurm: slurm settings need scheduler: slurm"));
}

TEST(HostsFileTest, RendezvousAddressIsAHostNameOrAddress) {
  auto file = ParseHostsFile(
      "hosts: {a: {address: 'unix:///s', runtime: docker, rendezvous_address: 10.0.0.5}}\n",
      "hosts.yaml");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->Find("a")->rendezvous_address, "10.0.0.5");
  EXPECT_THAT(ErrorOf("hosts: {a: {address: 'unix:///s', rendezvous_address: 'h; rm -rf /'}}"),
              HasSubstr("hosts.a.rendezvous_address: expected a host name or IP address"));
}

TEST(HostsFileTest, ErrorsNameFileAndKey) {
  EXPECT_EQ(ErrorOf("hosts: {a: {address: 'x:1', runtime: lxc}}"),
            "/etc/hosts.yaml: hosts.a.runtime: expected docker, podman or singularity, got 'lxc'");
  EXPECT_THAT(ErrorOf("hosts: {a: {address: 'x:1', colour: red}}"),
              HasSubstr("/etc/hosts.yaml: hosts.a.colour: unknown key"));
  EXPECT_THAT(ErrorOf("hosts: {a: {address: nowhere}}"),
              HasSubstr("hosts.a.address: expected unix:///path or HOST:PORT, got 'nowhere'"));
  EXPECT_THAT(ErrorOf("hosts: {a: {address: 'unix://rel/path'}}"),
              HasSubstr("hosts.a.address: expected unix:///absolute/path"));
  EXPECT_THAT(ErrorOf("hosts: {a: {runtime: docker}}"),
              HasSubstr("hosts.a.address: required key is missing"));
  EXPECT_THAT(ErrorOf("default_host: b\nhosts: {a: {address: 'x:1'}}"),
              HasSubstr("default_host: no host named 'b'"));
  EXPECT_THAT(ErrorOf("hosts: {a: {address: 'x:1', tls: {ca: a}}}"),
              HasSubstr("hosts.a.tls.cert: required key is missing"));
  EXPECT_THAT(ErrorOf("hosts: {a: {ssh: {port: abc}}}"),
              HasSubstr("hosts.a.ssh.port: expected a port number, got 'abc'"));
  EXPECT_THAT(ErrorOf("hosts: {a: {address: 'x:1'}}\nexclude: '*.tmp'"),
              HasSubstr("exclude: expected a list of patterns"));
  EXPECT_THAT(ErrorOf("hosts: [a, b]"), HasSubstr("hosts: expected a mapping of host names"));
  EXPECT_THAT(ErrorOf("hosts: {a: {address: 'x:1'}}\nextra: 1"), HasSubstr("extra: unknown key"));
  EXPECT_THAT(ErrorOf("hosts: {a: {address: [1]"), HasSubstr("invalid YAML"));
  EXPECT_THAT(ErrorOf("hosts: {a: {ssh: {host: h}, agent_socket: 'gpu01:7443'}}"),
              HasSubstr("hosts.a.agent_socket: expected the agent's unix socket"));
  EXPECT_THAT(ErrorOf("hosts: {a: {ssh: {host: h}, agent_socket: '127.0.0.1:99999'}}"),
              HasSubstr("hosts.a.agent_socket: expected"));
  for (const char* loopback : {"127.0.0.1:7443", "[::1]:7443", "localhost:7443"}) {
    auto file = ParseHostsFile(
        std::string("hosts: {a: {ssh: {host: h}, agent_socket: '") + loopback + "'}}", "h.yaml");
    ASSERT_TRUE(file.ok()) << file.status();
    EXPECT_EQ(file->Find("a")->agent_socket, loopback);
  }
}

TEST(HostsFileTest, LoadOrderAndBuiltInDefault) {
  TempDir dir;
  HostsLookup lookup;
  lookup.config_home = dir.path();
  lookup.home = "/nonexistent-home";
  lookup.local_agent = "unix:///tmp/test-agent.sock";
  absl::StatusOr<HostsFile> builtin = LoadHostsFile(lookup);
  ASSERT_TRUE(builtin.ok()) << builtin.status();
  EXPECT_EQ(builtin->path, "");
  EXPECT_EQ(builtin->Find("")->address, "unix:///tmp/test-agent.sock");

  dir.WriteFile("mlcube-remote/hosts.yaml", "hosts: {only: {address: 'h:1'}}\n");
  absl::StatusOr<HostsFile> user = LoadHostsFile(lookup);
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_EQ(user->Find("")->name, "only");  // a single host is the default

  dir.WriteFile("other.yaml", "hosts: {other: {address: 'o:2'}}\n");
  HostsLookup from_env = lookup;
  from_env.env_path = dir.path() + "/other.yaml";
  EXPECT_EQ(LoadHostsFile(from_env)->Find("")->name, "other");

  HostsLookup named = from_env;
  named.explicit_path = dir.path() + "/none.yaml";
  absl::StatusOr<HostsFile> missing = LoadHostsFile(named);
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.status().message()),
              HasSubstr("none.yaml: hosts file not found"));

  HostsLookup home_only;
  home_only.home = dir.path() + "/home";
  dir.WriteFile("home/.config/mlcube-remote/hosts.yaml", "hosts: {mine: {address: 'm:3'}}\n");
  EXPECT_EQ(LoadHostsFile(home_only)->Find("")->name, "mine");
}

TEST(HostsFileTest, SshHostsTakeTheSshDirectoryOfTheLookup) {
  TempDir dir;
  dir.WriteFile("hosts.yaml",
                "hosts: {a: {ssh: {host: h}, agent_socket: /run/a.sock}, b: {address: 'b:1'}}\n");
  HostsLookup lookup;
  lookup.explicit_path = dir.path() + "/hosts.yaml";
  lookup.ssh_dir = "/custom/ssh";
  absl::StatusOr<HostsFile> file = LoadHostsFile(lookup);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->Find("a")->ssh.config_dir, "/custom/ssh");
  EXPECT_EQ(file->Find("b")->ssh.config_dir, "");
}

const char kGroups[] = R"(
default_host: a
hosts:
  a: {address: 'a:1'}
  b: {address: 'b:1'}
  c: {address: 'c:1'}
groups:
  lab: [a, b]
  all: [c, b, a]
)";

std::vector<std::string> Names(const absl::StatusOr<std::vector<HostEntry>>& hosts) {
  std::vector<std::string> names;
  if (hosts.ok()) {
    for (const HostEntry& host : *hosts) names.push_back(host.name);
  }
  return names;
}

TEST(HostsFileTest, GroupsAndCommaListsResolveToHostsOnceInOrder) {
  absl::StatusOr<HostsFile> file = ParseHostsFile(kGroups, "/etc/hosts.yaml");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_THAT(file->groups.at("all"), ::testing::ElementsAre("c", "b", "a"));
  EXPECT_THAT(Names(file->Resolve("")), ::testing::ElementsAre("a"));
  EXPECT_THAT(Names(file->Resolve("b")), ::testing::ElementsAre("b"));
  EXPECT_THAT(Names(file->Resolve("lab")), ::testing::ElementsAre("a", "b"));
  EXPECT_THAT(Names(file->Resolve("c,lab")), ::testing::ElementsAre("c", "a", "b"));
  EXPECT_THAT(Names(file->Resolve("b, a,b")), ::testing::ElementsAre("b", "a"));
  EXPECT_THAT(std::string(file->Resolve("a,,b").status().message()),
              HasSubstr("--host=a,,b: an empty host name"));
  EXPECT_THAT(std::string(file->Resolve("a,gpu9").status().message()),
              HasSubstr("no host named 'gpu9'"));
  // Commands that talk to one host say so for a group or a list.
  EXPECT_THAT(std::string(file->Find("lab").status().message()),
              HasSubstr("'lab' is a group of hosts (a, b): this command talks to one host"));
  EXPECT_THAT(std::string(file->Find("a,b").status().message()), HasSubstr("names several hosts"));
}

TEST(HostsFileTest, BadGroupsAreRefusedNamingFileAndKey) {
  const std::string hosts = "hosts: {a: {address: 'a:1'}, b: {address: 'b:1'}}\n";
  EXPECT_THAT(ErrorOf(hosts + "groups: {lab: [a, gpu9]}\n"),
              HasSubstr("/etc/hosts.yaml: groups.lab.1: no host named 'gpu9' in hosts"));
  EXPECT_THAT(ErrorOf(hosts + "groups: {lab: []}\n"),
              HasSubstr("groups.lab: expected a non-empty list of host names"));
  EXPECT_THAT(ErrorOf(hosts + "groups: {lab: a}\n"),
              HasSubstr("groups.lab: expected a non-empty list of host names"));
  EXPECT_THAT(ErrorOf(hosts + "groups: {a: [b]}\n"), HasSubstr("groups.a: a host has this name"));
  EXPECT_THAT(ErrorOf(hosts + "groups: {x: [a], y: [x, b]}\n"),
              HasSubstr("groups.y.0: 'x' is a group; groups list hosts only (no nesting)"));
  EXPECT_THAT(ErrorOf(hosts + "groups: {x: [x]}\n"), HasSubstr("groups.x.0: 'x' is a group"));
  EXPECT_THAT(ErrorOf(hosts + "groups: {lab: [a, a]}\n"),
              HasSubstr("groups.lab.1: 'a' is listed twice"));
  EXPECT_THAT(ErrorOf(hosts + "groups: {lab: [[a]]}\n"),
              HasSubstr("groups.lab.0: expected a host name"));
  EXPECT_THAT(ErrorOf(hosts + "groups: [a]\n"), HasSubstr("groups: expected a mapping"));
  EXPECT_THAT(ErrorOf(hosts + "groups: {'a,b': [a]}\n"),
              HasSubstr("group names have no spaces, ',' or '/'"));
  EXPECT_THAT(ErrorOf("hosts: {'a,b': {address: 'a:1'}}\n"),
              HasSubstr("host names have no spaces, ',' or '/'"));
}

}  // namespace
}  // namespace mlcube
