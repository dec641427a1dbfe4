#include "controller/sweeps/json_writer.h"

#include <gtest/gtest.h>

#include "common/yaml_reader.h"

namespace mlcube {
namespace {

TEST(JsonWriterTest, KeepsKeyOrderAndTypesOfPlainScalars) {
  absl::StatusOr<YAML::Node> node =
      ParseYaml("z: 1\na: [true, null, -2.5e3, 007, 'quoted 1', x]\nm: {k: \"v\\\"w\"}\n", "t");
  ASSERT_TRUE(node.ok());
  EXPECT_EQ(
      JsonWriter::FromYaml(*node, 0),
      "{\"z\":1,\"a\":[true,null,-2.5e3,\"007\",\"quoted 1\",\"x\"],\"m\":{\"k\":\"v\\\"w\"}}");
  EXPECT_EQ(JsonWriter::FromYaml(*node, 2).substr(0, 12), "{\n  \"z\": 1,\n");
}

TEST(JsonWriterTest, RecognisesJsonNumbers) {
  EXPECT_TRUE(JsonWriter::IsNumber("0.5"));
  EXPECT_TRUE(JsonWriter::IsNumber("-1E+9"));
  EXPECT_FALSE(JsonWriter::IsNumber("1."));
  EXPECT_FALSE(JsonWriter::IsNumber(".5"));
  EXPECT_FALSE(JsonWriter::IsNumber("0x10"));
  EXPECT_FALSE(JsonWriter::IsNumber(""));
}

}  // namespace
}  // namespace mlcube
