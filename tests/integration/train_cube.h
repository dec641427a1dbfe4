#ifndef MLCUBE_REMOTE_TESTS_INTEGRATION_TRAIN_CUBE_H_
#define MLCUBE_REMOTE_TESTS_INTEGRATION_TRAIN_CUBE_H_

// Gives a copy of the hello cube (in `dir`, under hello/) a `train` task that
// writes JSON-lines metrics step by step into its output metrics/: steps 1-3
// (loss 0.35, 0.25, 0.15), half of step 4, a pause of TRAIN_HOLD seconds
// (default 30), then the rest of step 4 (loss 0.05). With PLANT_LINK it only
// plants metrics/log.jsonl -> PLANT_LINK. Drops an earlier build of
// `image` so the agent builds this script. Fails the test on error.

#include <string>

#include "tests/support/temp_dir.h"

namespace mlcube_test {

void AddTrainTask(const ::mlcube::testing::TempDir& dir, const std::string& image);

}  // namespace mlcube_test

#endif  // MLCUBE_REMOTE_TESTS_INTEGRATION_TRAIN_CUBE_H_
