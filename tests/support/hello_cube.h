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

}  // namespace mlcube::testing

#endif  // MLCUBE_REMOTE_TESTS_SUPPORT_HELLO_CUBE_H_
