#include "agent/gpus/gpu_request.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/safe_path.h"

namespace mlcube {

std::string GpuRequest::Describe() const {
  switch (kind) {
    case Kind::kNone:
      return "no GPUs";
    case Kind::kCount:
      return absl::StrCat(count, count == 1 ? " GPU" : " GPUs");
    case Kind::kAll:
      return "all GPUs";
    case Kind::kDevices:
      return absl::StrCat(ids.size() == 1 ? "GPU " : "GPUs ", absl::StrJoin(ids, ","));
  }
  return "";
}

absl::StatusOr<GpuRequest> ParseGpuRequest(const std::string& gpus, int accelerator_count) {
  GpuRequest request;
  if (gpus.empty()) {
    if (accelerator_count > 0) {
      request.kind = GpuRequest::Kind::kCount;
      request.count = accelerator_count;
    }
    return request;
  }
  if (gpus == "all") {
    request.kind = GpuRequest::Kind::kAll;
    return request;
  }
  if (absl::SimpleAtoi(gpus, &request.count) && request.count >= 0) {
    request.kind = request.count == 0 ? GpuRequest::Kind::kNone : GpuRequest::Kind::kCount;
    return request;
  }
  if (absl::StartsWith(gpus, "device=")) {
    request.kind = GpuRequest::Kind::kDevices;
    bool well_formed = gpus.size() > 7;
    for (absl::string_view id : absl::StrSplit(gpus.substr(7), ',')) {
      well_formed = well_formed && !id.empty();
      request.ids.emplace_back(id);
    }
    if (well_formed) return request;
  }
  return absl::InvalidArgumentError(absl::StrCat("gpus: '", PrintableExcerpt(gpus, 80),
                                                 "' must be all, a count, or device=ID,..."));
}

}  // namespace mlcube
