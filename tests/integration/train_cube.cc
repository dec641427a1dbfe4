#include "tests/integration/train_cube.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "tests/integration/agent_process.h"

namespace mlcube_test {

using ::mlcube::testing::ReadFileContent;

void AddTrainTask(const ::mlcube::testing::TempDir& dir, const std::string& image) {
  const std::string cube = dir.path() + "/hello";
  std::string yaml = ReadFileContent(cube + "/mlcube.yaml");
  yaml.replace(yaml.find("tasks:\n"), 7,
               "tasks:\n  train:\n    parameters: {inputs: {}, outputs: {metrics_dir: "
               "{type: directory, default: metrics/}}}\n");
  dir.WriteFile("hello/mlcube.yaml", yaml);
  std::string script = ReadFileContent(cube + "/build/hello.sh");
  script.replace(script.find("shift\n"), 6, R"(shift
if [ "$task" = train ]; then
  out=""
  for arg in "$@"; do case "$arg" in --metrics_dir=*) out=${arg#--metrics_dir=} ;; esac; done
  mkdir -p "$out" || exit 2
  if [ -n "$PLANT_LINK" ]; then
    ln -s "$PLANT_LINK" "$out/log.jsonl" && echo "train: planted a link"
    sleep "${TRAIN_HOLD:-30}"
    exit 0
  fi
  for i in 1 2 3; do
    echo "{\"step\": $i, \"loss\": 0.$((4 - i))5}" >> "$out/log.jsonl"
    echo "train: step $i"
  done
  printf '{"step": 4, "lo' >> "$out/log.jsonl"
  sleep "${TRAIN_HOLD:-30}"
  echo 'ss": 0.05}' >> "$out/log.jsonl"
  echo "train: done"
  exit 0
fi
)");
  dir.WriteFile("hello/build/hello.sh", script);
  // The agent tags its build per identity (mlcube-local/OWNER:NAME-HASH)
  // and builds only when that is missing: drop an earlier script's build.
  std::string tag = image;
  std::replace(tag.begin(), tag.end(), '/', '_');
  std::replace(tag.begin(), tag.end(), ':', '_');
  ASSERT_EQ(Shell("docker images -q --filter 'reference=mlcube-local/*:" + tag +
                  "-*' | xargs -r docker rmi -f >/dev/null"),
            0);
}

}  // namespace mlcube_test
