#ifndef MLCUBE_REMOTE_TESTS_SUPPORT_HELLO_CUBE_H_
#define MLCUBE_REMOTE_TESTS_SUPPORT_HELLO_CUBE_H_

// Copies of examples/hello for tests. A test never runs the source tree's
// cube: a user's earlier run (the quick start) leaves outputs in its
// workspace, and a test must not depend on whether it did.

#include <string>

namespace mlcube::testing {

// Copies examples/hello (busybox and all) to `dest` (which must not exist)
// without its outputs: `workspace/greetings` and `workspace/runs` are left
// out whatever the source holds. False (and a message on stderr) on error.
bool CopyHelloCube(const std::string& dest);

// Makes the `greet` task of the hello cube at `cube_dir` (not yet built)
// wait after its Nth name (N = 1, 2, ...) until the file "${GREET_GATE}N"
// exists, when GREET_GATE is set (e.g. "/mlcube_io0/go": the names file's
// directory is mounted there, so the test releases the first name by
// creating DIR/go1 in that directory on the host). Unset, greet is
// unchanged. The cube's Docker image becomes mlcube/hello-gated:0.1, so no
// ungated hello image another test built is used instead. Adds a test
// failure and returns false when it cannot.
bool AddGreetGates(const std::string& cube_dir);

// Creates `path` (a gate of AddGreetGates); adds a failure when it cannot.
void OpenGate(const std::string& path);

// Polls until `path` exists; false after `timeout_s`.
bool WaitForFile(const std::string& path, int timeout_s = 60);

}  // namespace mlcube::testing

#endif  // MLCUBE_REMOTE_TESTS_SUPPORT_HELLO_CUBE_H_
