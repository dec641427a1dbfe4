#ifndef MLCUBE_REMOTE_AGENT_SERVER_REFUSED_CONNECTIONS_H_
#define MLCUBE_REMOTE_AGENT_SERVER_REFUSED_CONNECTIONS_H_

// Tells refused connections why, in words a gRPC client reports: the first
// call on the connection is answered with status UNAVAILABLE and the reason
// as its message (an HTTP/2 trailers-only response), then a GOAWAY, then the
// socket is closed.
//
// Only a call answered this way ends cleanly: a client whose connection is
// merely closed, or sent a GOAWAY before any call, reconnects at once and
// is refused again, in a loop. So a refused socket is kept until its
// client's first call arrives (or it closes), for a second at most, and
// never more than `max_kept` of them: beyond that the oldest is closed at
// once, so a flood of refused connections holds a bounded number of
// descriptors.
//
// Not thread-safe: one thread (the accept loop) calls every method.

#include <poll.h>

#include <chrono>
#include <deque>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/unique_fd.h"

namespace mlcube {

// The bytes that end a refused connection whose client opened `stream_id`:
// an ack of the client's SETTINGS, the call's trailers (grpc-status 14,
// grpc-message `why`) and a GOAWAY. Exposed for tests.
std::string RefusalBytes(uint32_t stream_id, absl::string_view why);

class RefusedConnections {
 public:
  using Clock = std::chrono::steady_clock;
  explicit RefusedConnections(size_t max_kept = 64,
                              Clock::duration keep_for = std::chrono::seconds(1))
      : max_kept_(max_kept), keep_for_(keep_for) {}

  // Takes `fd` (a non-blocking socket) and sends it an empty SETTINGS frame
  // (the server preface; never empty from gRPC's own server). The client's
  // first call is answered with the reason; a client that makes none sees
  // the socket closed.
  void Refuse(UniqueFd fd, const absl::Status& why);

  // Appends a pollfd (POLLIN) for each kept socket, in order.
  void AppendPollFds(std::vector<pollfd>& fds) const;
  // Handles the sockets `fds` (what AppendPollFds appended, after poll)
  // says are readable, and closes those kept for long enough.
  void Service(const pollfd* fds, size_t count);

  bool empty() const { return kept_.empty(); }

 private:
  struct Kept {
    UniqueFd fd;
    std::string why;
    Clock::time_point until;
    std::string received;
    bool done = false;
  };
  // Reads what arrived; true when the connection is finished with.
  bool Read(Kept& kept);

  size_t max_kept_;
  Clock::duration keep_for_;
  std::deque<Kept> kept_;  // oldest first
};

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_AGENT_SERVER_REFUSED_CONNECTIONS_H_
