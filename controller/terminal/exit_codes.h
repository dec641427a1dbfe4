#ifndef MLCUBE_REMOTE_CONTROLLER_TERMINAL_EXIT_CODES_H_
#define MLCUBE_REMOTE_CONTROLLER_TERMINAL_EXIT_CODES_H_

// Process exit statuses of mlcube-remote. `run` otherwise exits with the
// task's own exit code, so controller failures use codes tasks rarely do.
namespace mlcube {

inline constexpr int kExitOk = 0;
// Bad command line, cube, platform or hosts file.
inline constexpr int kExitBadInput = 2;
// The agent could not be reached or failed the request.
inline constexpr int kExitAgentError = 75;
// The job was cancelled.
inline constexpr int kExitCancelled = 130;

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_TERMINAL_EXIT_CODES_H_
