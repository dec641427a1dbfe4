#include "agent/server/refused_connections.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

namespace mlcube {
namespace {

constexpr absl::string_view kClientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
constexpr uint8_t kHeaders = 0x1, kSettings = 0x4, kGoaway = 0x7;

void AppendFrameHeader(std::string& out, size_t length, uint8_t type, uint8_t flags,
                       uint32_t stream) {
  out.push_back(static_cast<char>((length >> 16) & 0xff));
  out.push_back(static_cast<char>((length >> 8) & 0xff));
  out.push_back(static_cast<char>(length & 0xff));
  out.push_back(static_cast<char>(type));
  out.push_back(static_cast<char>(flags));
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((stream >> shift) & 0xff));
  }
}

// HPACK string: a 7-bit-prefix length (no Huffman coding), then the bytes.
void AppendHpackString(std::string& out, absl::string_view s) {
  size_t n = s.size();
  if (n < 127) {
    out.push_back(static_cast<char>(n));
  } else {
    out.push_back(static_cast<char>(127));
    for (n -= 127; n >= 128; n >>= 7) out.push_back(static_cast<char>((n & 0x7f) | 0x80));
    out.push_back(static_cast<char>(n));
  }
  out.append(s.data(), s.size());
}

// grpc-message is percent-encoded outside printable ASCII.
std::string PercentEncode(absl::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (c < 0x20 || c > 0x7e || c == '%') {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

// The id of the first HEADERS frame (a call) in what a client sent; 0 while
// none has arrived whole.
uint32_t FirstCall(const std::string& received) {
  if (received.size() < kClientPreface.size()) return 0;
  size_t at = kClientPreface.size();
  while (at + 9 <= received.size()) {
    const auto* p = reinterpret_cast<const unsigned char*>(received.data() + at);
    const size_t length = (size_t{p[0]} << 16) | (size_t{p[1]} << 8) | p[2];
    if (p[3] == kHeaders) {
      return ((uint32_t{p[5]} & 0x7f) << 24) | (uint32_t{p[6]} << 16) | (uint32_t{p[7]} << 8) |
             p[8];
    }
    at += 9 + length;
  }
  return 0;
}

}  // namespace

std::string RefusalBytes(uint32_t stream_id, absl::string_view why) {
  std::string block;
  block.push_back(static_cast<char>(0x88));  // :status 200 (static table 8)
  block.append("\x0f\x10", 2);               // content-type (static 31), literal value
  AppendHpackString(block, "application/grpc");
  block.push_back('\0');  // literal name and value, not indexed
  AppendHpackString(block, "grpc-status");
  AppendHpackString(block, "14");  // UNAVAILABLE
  block.push_back('\0');
  AppendHpackString(block, "grpc-message");
  AppendHpackString(block, PercentEncode(why));
  std::string out;
  AppendFrameHeader(out, 0, kSettings, 0x1, 0);                    // ack the client's settings
  AppendFrameHeader(out, block.size(), kHeaders, 0x5, stream_id);  // END_STREAM|END_HEADERS
  out += block;
  AppendFrameHeader(out, 8, kGoaway, 0, 0);
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((stream_id >> shift) & 0xff));
  }
  out.append(4, '\0');  // NO_ERROR
  return out;
}

void RefusedConnections::Refuse(UniqueFd fd, const absl::Status& why) {
  if (max_kept_ == 0) return;
  // A gRPC client makes its call only after the server's preface: an empty
  // SETTINGS frame (gRPC's own servers always send some settings).
  std::string preface;
  AppendFrameHeader(preface, 0, kSettings, 0, 0);
  // Best effort, discarded on purpose: a peer that cannot take the preface
  // is closed when its time is up.
  (void)!send(fd.get(), preface.data(), preface.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  if (kept_.size() >= max_kept_) kept_.pop_front();
  kept_.push_back(
      Kept{std::move(fd), std::string(why.message()), Clock::now() + keep_for_, {}, false});
}

void RefusedConnections::AppendPollFds(std::vector<pollfd>& fds) const {
  for (const Kept& kept : kept_) fds.push_back({kept.fd.get(), POLLIN, 0});
}

bool RefusedConnections::Read(Kept& kept) {
  char buf[4096];
  for (;;) {
    const ssize_t n = recv(kept.fd.get(), buf, sizeof(buf), MSG_DONTWAIT);
    if (n <= 0) return n == 0 || (errno != EAGAIN && errno != EINTR);
    // A client's first call fits in far less; more is not a gRPC client.
    if (kept.received.size() + static_cast<size_t>(n) > 65536) return true;
    kept.received.append(buf, static_cast<size_t>(n));
    if (const uint32_t stream = FirstCall(kept.received); stream != 0) {
      const std::string bytes = RefusalBytes(stream, kept.why);
      // Best effort, discarded on purpose: the connection closes next.
      (void)!send(kept.fd.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      return true;
    }
  }
}

void RefusedConnections::Service(const pollfd* fds, size_t count) {
  for (size_t i = 0; i < count && i < kept_.size(); ++i) {
    if (fds[i].revents != 0 && kept_[i].fd.get() == fds[i].fd) kept_[i].done = Read(kept_[i]);
  }
  const Clock::time_point now = Clock::now();
  std::deque<Kept> still;
  for (Kept& kept : kept_) {
    if (!kept.done && kept.until > now) still.push_back(std::move(kept));
  }
  kept_.swap(still);
}

}  // namespace mlcube
