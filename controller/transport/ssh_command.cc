#include "controller/transport/ssh_command.h"

#include <fcntl.h>
#include <unistd.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "common/unique_fd.h"

namespace mlcube {
namespace {

// More output than any command we run prints; the rest is dropped.
constexpr size_t kMaxOutputBytes = 1 << 20;
constexpr size_t kChunk = 64 * 1024;

struct ChannelCloser {
  void operator()(ssh_channel_struct* channel) const {
    if (ssh_channel_is_open(channel)) ssh_channel_close(channel);
    ssh_channel_free(channel);
  }
};
using ChannelPtr = std::unique_ptr<ssh_channel_struct, ChannelCloser>;

void Keep(std::string* to, const char* data, int n) {
  if (n > 0 && to->size() < kMaxOutputBytes) {
    to->append(data, std::min(static_cast<size_t>(n), kMaxOutputBytes - to->size()));
  }
}

// Reads what has arrived on both streams without waiting, so a command that
// talks while we feed it never stalls on a full window.
void DrainNow(ssh_channel channel, SshCommandResult* result) {
  char buffer[kChunk];
  for (int is_stderr = 0; is_stderr < 2; ++is_stderr) {
    int n;
    while ((n = ssh_channel_read_nonblocking(channel, buffer, sizeof(buffer), is_stderr)) > 0) {
      Keep(is_stderr ? &result->err : &result->out, buffer, n);
    }
  }
}

absl::Status Write(ssh_channel channel, const char* data, size_t size, SshCommandResult* result,
                   const std::string& where) {
  while (size > 0) {
    const uint32_t piece = static_cast<uint32_t>(std::min(size, kChunk));
    const int n = ssh_channel_write(channel, data, piece);
    if (n == SSH_ERROR) {
      return absl::UnavailableError(
          absl::StrCat("ssh: writing to a command on ", where, " failed"));
    }
    data += n;
    size -= static_cast<size_t>(n);
    DrainNow(channel, result);
  }
  return absl::OkStatus();
}

absl::Status WriteFile(ssh_channel channel, const std::string& path, SshCommandResult* result,
                       const std::string& where) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  char buffer[kChunk];
  for (;;) {
    const ssize_t n = read(fd.get(), buffer, sizeof(buffer));
    if (n < 0) return absl::DataLossError(absl::StrCat("reading ", path, " failed"));
    if (n == 0) return absl::OkStatus();
    absl::Status written = Write(channel, buffer, static_cast<size_t>(n), result, where);
    if (!written.ok()) return written;
  }
}

// Reads both streams until the command closes them.
void ReadToEnd(ssh_channel channel, SshCommandResult* result) {
  char buffer[kChunk];
  while (!ssh_channel_is_eof(channel) && ssh_channel_is_open(channel)) {
    const int n = ssh_channel_read_timeout(channel, buffer, sizeof(buffer), 0, 100);
    if (n == SSH_ERROR) break;
    Keep(&result->out, buffer, n);
    DrainNow(channel, result);
  }
  DrainNow(channel, result);
}

}  // namespace

absl::StatusOr<SshCommandResult> RunSshCommand(SshSession& session, const std::string& command,
                                               const SshCommandInput& input) {
  ssh_session raw = session.get();
  const std::string& where = session.description();
  ChannelPtr channel(ssh_channel_new(raw));
  if (channel == nullptr || ssh_channel_open_session(channel.get()) != SSH_OK ||
      ssh_channel_request_exec(channel.get(), command.c_str()) != SSH_OK) {
    return absl::UnavailableError(
        absl::StrCat("ssh: cannot run a command on ", where, ": ", ssh_get_error(raw)));
  }
  SshCommandResult result;
  absl::Status written = Write(channel.get(), input.text.data(), input.text.size(), &result, where);
  if (written.ok() && !input.file_path.empty()) {
    written = WriteFile(channel.get(), input.file_path, &result, where);
  }
  if (!written.ok()) return written;
  ssh_channel_send_eof(channel.get());
  ReadToEnd(channel.get(), &result);
  result.exit_status = ssh_channel_get_exit_status(channel.get());
  return result;
}

}  // namespace mlcube
