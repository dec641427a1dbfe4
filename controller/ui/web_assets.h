#ifndef MLCUBE_REMOTE_CONTROLLER_UI_WEB_ASSETS_H_
#define MLCUBE_REMOTE_CONTROLLER_UI_WEB_ASSETS_H_

// The dashboard's page (controller/ui/web/) and Chart.js (Debian's
// libjs-chart.js), built into the binary so the page works with no network
// and no files next to the controller.

#include <optional>
#include <string_view>

namespace mlcube {

struct WebAsset {
  std::string_view content_type;
  std::string_view body;
};

// The asset served at `path` ("/", "/assets/app.js", ...), if any.
std::optional<WebAsset> FindWebAsset(std::string_view path);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_UI_WEB_ASSETS_H_
