#include "controller/sweeps/json_writer.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/json_quote.h"

namespace mlcube {
namespace {

void NewLine(int indent, int depth, std::string* out) {
  if (indent <= 0) return;
  out->push_back('\n');
  out->append(static_cast<size_t>(indent * depth), ' ');
}

}  // namespace

bool JsonWriter::IsNumber(absl::string_view text) {
  size_t i = 0;
  const auto digits = [&] {
    const size_t start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    return i > start;
  };
  if (i < text.size() && text[i] == '-') ++i;
  if (i < text.size() && text[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < text.size() && text[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == text.size();
}

std::string JsonWriter::FromYaml(const YAML::Node& node, int indent) {
  std::string out;
  Append(node, indent, 0, &out);
  return out;
}

void JsonWriter::Append(const YAML::Node& node, int indent, int depth, std::string* out) {
  if (!node.IsDefined() || node.IsNull()) {
    out->append("null");
  } else if (node.IsScalar()) {
    const std::string& value = node.Scalar();
    const bool plain = node.Tag() != "!";
    if (plain && (IsNumber(value) || value == "true" || value == "false" || value == "null")) {
      out->append(value);
    } else {
      out->append(JsonQuote(value));
    }
  } else if (node.IsSequence() || node.IsMap()) {
    const bool map = node.IsMap();
    out->push_back(map ? '{' : '[');
    bool first = true;
    for (const auto& item : node) {
      if (!first) out->push_back(',');
      first = false;
      NewLine(indent, depth + 1, out);
      if (map) {
        out->append(JsonQuote(item.first.Scalar()));
        out->append(indent > 0 ? ": " : ":");
        Append(item.second, indent, depth + 1, out);
      } else {
        Append(item, indent, depth + 1, out);
      }
    }
    if (!first) NewLine(indent, depth, out);
    out->push_back(map ? '}' : ']');
  }
}

}  // namespace mlcube
