#include "controller/sweeps/curve_plot.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/temp_dir.h"

namespace mlcube {
namespace {

using ::mlcube::testing::ReadFileContent;
using ::mlcube::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

PlotRequest TwoCurves() {
  PlotRequest request;
  request.title = "sweep s1";
  request.x_label = "step";
  request.y_label = "loss";
  request.curves = {{"lr=0.1", {{0, 1.0}, {10, 0.5}, {20, 0.3}}},
                    {"lr=0.01", {{0, 1.0}, {10, 0.8}, {20, 0.7}}}};
  return request;
}

TEST(CurvePlotTest, LabelsCannotInjectGnuplotCommands) {
  EXPECT_EQ(CurvePlot::QuoteForGnuplot("it's\nsystem('x')"), "'it''s system(''x'')'");
  PlotRequest request = TwoCurves();
  request.curves[0].label = "a'\nsystem 'touch /tmp/x";
  const std::string script = CurvePlot::Script(request, {"/d/0.dat", "/d/1.dat"});
  EXPECT_THAT(script, HasSubstr("title 'a'' system ''touch /tmp/x'"));
  EXPECT_THAT(script, HasSubstr("set termoption noenhanced"));
  EXPECT_THAT(script, Not(HasSubstr("\nsystem")));
}

// Real gnuplot (apt-get install gnuplot-nox).
TEST(CurvePlotTest, DrawsPngSvgAndATextChart) {
  TempDir dir;
  CurvePlot plot;
  PlotRequest request = TwoCurves();
  request.output = dir.path() + "/curves.png";
  absl::StatusOr<std::string> drawn = plot.Draw(request);
  ASSERT_TRUE(drawn.ok()) << drawn.status();
  const std::string png = ReadFileContent(request.output);
  ASSERT_GT(png.size(), 1000u);
  EXPECT_EQ(png.substr(1, 3), "PNG");
  request.output = dir.path() + "/curves.svg";
  ASSERT_TRUE(plot.Draw(request).ok());
  EXPECT_THAT(ReadFileContent(request.output), HasSubstr("<svg"));
  EXPECT_THAT(ReadFileContent(request.output), HasSubstr("lr=0.01"));
  request.output.clear();
  request.text_columns = 70;
  absl::StatusOr<std::string> text = plot.Draw(request);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_THAT(*text, HasSubstr("lr=0.1"));
  EXPECT_THAT(*text, HasSubstr("loss"));
}

TEST(CurvePlotTest, RefusesWhatItCannotDraw) {
  PlotRequest request = TwoCurves();
  request.output = "/tmp/x.jpg";
  EXPECT_THAT(CurvePlot().Draw(request).status().message(), HasSubstr("expected a .png or .svg"));
  request.output.clear();
  request.curves = {{"empty", {}}};
  EXPECT_THAT(CurvePlot().Draw(request).status().message(), HasSubstr("no points"));
  absl::StatusOr<std::string> missing = CurvePlot("/nonexistent/gnuplot").Draw(TwoCurves());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(missing.status().message(), HasSubstr("apt-get install gnuplot-nox"));
}

}  // namespace
}  // namespace mlcube
