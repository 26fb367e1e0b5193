#include "cli/output.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace ferry::cli {
namespace {

const nlohmann::json* Walk(const nlohmann::json& row, const std::string& dotted_key) {
  const nlohmann::json* cur = &row;
  size_t start = 0;
  while (true) {
    size_t dot = dotted_key.find('.', start);
    std::string part = dotted_key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(part);
    if (it == cur->end()) return nullptr;
    cur = &*it;
    if (dot == std::string::npos) return cur;
    start = dot + 1;
  }
}

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::string CellText(const nlohmann::json& value) {
  if (value.is_null()) return "";
  if (value.is_string()) return value.get<std::string>();
  return value.dump();
}

void PrintTable(std::ostream& out, const std::vector<Column>& columns, const nlohmann::json& rows) {
  std::vector<std::vector<std::string>> cells;
  std::vector<size_t> widths;
  std::vector<std::string> header;
  for (const Column& c : columns) {
    header.push_back(Upper(c.header));
    widths.push_back(header.back().size());
  }
  if (rows.is_array()) {
    for (const nlohmann::json& row : rows) {
      std::vector<std::string> line;
      for (size_t i = 0; i < columns.size(); ++i) {
        const nlohmann::json* v = Walk(row, columns[i].key);
        std::string text = v == nullptr ? std::string() : CellText(*v);
        if (text.empty()) text.push_back('-');
        widths[i] = std::max(widths[i], text.size());
        line.push_back(std::move(text));
      }
      cells.push_back(std::move(line));
    }
  }
  auto print_line = [&](const std::vector<std::string>& line) {
    std::string s;
    for (size_t i = 0; i < line.size(); ++i) {
      s += line[i];
      if (i + 1 < line.size()) s += std::string(widths[i] - line[i].size() + 2, ' ');
    }
    out << s << "\n";
  };
  print_line(header);
  for (const auto& line : cells) print_line(line);
}

void PrintRecord(std::ostream& out, const nlohmann::json& record) {
  size_t width = 0;
  for (const auto& [k, v] : record.items()) width = std::max(width, k.size());
  for (const auto& [k, v] : record.items()) {
    out << k << ":" << std::string(width - k.size() + 1, ' ') << CellText(v) << "\n";
  }
}

void PrintJson(std::ostream& out, const nlohmann::json& value) { out << value.dump(2) << "\n"; }

std::string HumanBytes(double bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  size_t unit = 0;
  while (bytes >= 1024.0 && unit + 1 < std::size(kUnits)) {
    bytes /= 1024.0;
    ++unit;
  }
  char buf[32];
  if (unit == 0) {
    std::snprintf(buf, sizeof(buf), "%.0f %s", bytes, kUnits[unit]);
  } else {
    std::snprintf(buf, sizeof(buf), "%.1f %s", bytes, kUnits[unit]);
  }
  return buf;
}

}  // namespace ferry::cli
