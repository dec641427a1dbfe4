// FormatColumns: columns as wide as their widest cell; a short row's last
// cell (a host that is down, with its error) widens nothing.

#include "controller/terminal/text_columns.h"

#include <gtest/gtest.h>

namespace mlcube {
namespace {

TEST(TextColumnsTest, ColumnsAreAsWideAsTheirWidestCell) {
  EXPECT_EQ(FormatColumns({{"HOST", "RUNTIMES", "GPUS"},
                           {"gpu01*", "docker 28.2.2, podman 4.3.1, apptainer 1.4.5", "0"},
                           {"b", "-", "4/8"}}),
            "HOST    RUNTIMES                                      GPUS\n"
            "gpu01*  docker 28.2.2, podman 4.3.1, apptainer 1.4.5  0\n"
            "b       -                                             4/8\n");
}

TEST(TextColumnsTest, AShortRowsLastCellRunsOnWithoutWideningItsColumn) {
  EXPECT_EQ(FormatColumns({{"HOST", "STATUS", "AGENT", "GPUS"},
                           {"gpu02", "DOWN", "gpu02:7443: connection refused"},
                           {"gpu01", "up", "0.1.0", "2"}}),
            "HOST   STATUS  AGENT  GPUS\n"
            "gpu02  DOWN    gpu02:7443: connection refused\n"
            "gpu01  up      0.1.0  2\n");
}

}  // namespace
}  // namespace mlcube
