#ifndef MLCUBE_REMOTE_CONTROLLER_TERMINAL_TEXT_COLUMNS_H_
#define MLCUBE_REMOTE_CONTROLLER_TERMINAL_TEXT_COLUMNS_H_

// Rows of cells as aligned text columns, as `runs` and `hosts` print them:
// each column as wide as its widest cell, two spaces between columns, the
// last column not padded, one line per row. A row shorter than the others
// ends early: its last cell runs on, unpadded, and widens no column.

#include <string>
#include <vector>

namespace mlcube {

std::string FormatColumns(const std::vector<std::vector<std::string>>& rows);

}  // namespace mlcube

#endif  // MLCUBE_REMOTE_CONTROLLER_TERMINAL_TEXT_COLUMNS_H_
