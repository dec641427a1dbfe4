#include "controller/terminal/text_columns.h"

#include <algorithm>

namespace mlcube {

std::string FormatColumns(const std::vector<std::vector<std::string>>& rows) {
  size_t columns = 0;
  for (const auto& row : rows) columns = std::max(columns, row.size());
  std::vector<size_t> widths(columns, 0);
  for (const auto& row : rows) {
    // The last cell of a short row runs on: it widens no column.
    const size_t counted = row.size() < columns && !row.empty() ? row.size() - 1 : row.size();
    for (size_t c = 0; c < counted; ++c) widths[c] = std::max(widths[c], row[c].size());
  }
  std::string out;
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) {
      out += row[c];
      if (c + 1 < row.size()) out.append(widths[c] - row[c].size() + 2, ' ');
    }
    out += '\n';
  }
  return out;
}

}  // namespace mlcube
