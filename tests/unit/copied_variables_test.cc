#include "common/copied_variables.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mlcube {
namespace {

// Which of the caller's variables the controller sends with a job, for the
// spellings real cubes use (a Hugging Face token in gpu_args, env_args...).
TEST(CopiedVariableNamesTest, FindsEverySpellingOfACopyOnce) {
  struct Case {
    const char* cpu_args;
    const char* gpu_args;
    const char* env_args;
    const char* run_args;
    std::vector<std::string> names;
  };
  const Case cases[] = {
      {"", "", "", "", {}},
      {"-e HF_TOKEN", "", "", "", {"HF_TOKEN"}},
      {"--shm-size=8g", "--gpus=all -e HF_TOKEN --ipc=host", "", "", {"HF_TOKEN"}},
      {"", "", "--env=WANDB_API_KEY -eHF_HOME", "", {"WANDB_API_KEY", "HF_HOME"}},
      {"-e A=1 --env B=2", "", "", "", {}},
      {"-e HF_TOKEN", "-e HF_TOKEN", "--env HF_TOKEN", "--env HF_TOKEN", {"HF_TOKEN"}},
      {"", "", "", "--nv --env HUGGING_FACE_HUB_TOKEN", {"HUGGING_FACE_HUB_TOKEN"}},
      {"-e 1BAD -e", "", "", "", {}},
      {"--entrypoint=python", "", "", "", {}},
  };
  for (const Case& c : cases) {
    Cube cube;
    cube.docker.cpu_args = c.cpu_args;
    cube.docker.gpu_args = c.gpu_args;
    cube.docker.env_args = c.env_args;
    cube.singularity.run_args = c.run_args;
    EXPECT_EQ(CopiedVariableNames(cube), c.names)
        << c.cpu_args << " | " << c.gpu_args << " | " << c.env_args << " | " << c.run_args;
  }
}

}  // namespace
}  // namespace mlcube
