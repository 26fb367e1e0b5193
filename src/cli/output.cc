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

// One step of a --query path: a field name, or an array step (every
// element, or the one at `index`).
struct QueryStep {
  std::string field;  // empty for an array step
  bool every = false;
  size_t index = 0;
};

Result<std::vector<QueryStep>> ParseQuery(const std::string& path) {
  auto bad = [&](const std::string& why) -> Status {
    return InvalidArgument("Usage",
                           "\"" + path + "\": " + why + " (e.g. ImageId, [].InstanceId, [0].DiskId)");
  };
  if (path.empty()) return bad("empty");
  if (path.size() > 256) return bad("longer than 256 characters");
  std::vector<QueryStep> steps;
  size_t i = 0;
  bool need_field = path[0] != '[';
  while (i < path.size()) {
    if (path[i] == '[') {
      size_t close = path.find(']', i);
      if (close == std::string::npos) return bad("'[' without ']'");
      std::string inside = path.substr(i + 1, close - i - 1);
      QueryStep step;
      if (inside.empty()) {
        step.every = true;
      } else {
        if (inside.size() > 9 ||
            !std::all_of(inside.begin(), inside.end(), [](char c) { return c >= '0' && c <= '9'; })) {
          return bad("[" + inside + "] is not [] or [N]");
        }
        step.index = std::stoul(inside);
      }
      steps.push_back(step);
      i = close + 1;
      if (i < path.size()) {
        if (path[i] == '.') {
          ++i;
          need_field = true;
          if (i == path.size()) return bad("ends with '.'");
        } else if (path[i] != '[') {
          return bad("expected '.' or '[' after ']'");
        }
      }
      continue;
    }
    if (!need_field) return bad("expected '.' before a field name");
    size_t end = path.find_first_of(".[", i);
    if (end == std::string::npos) end = path.size();
    std::string field = path.substr(i, end - i);
    if (field.empty()) return bad("empty field name");
    steps.push_back(QueryStep{field});
    need_field = false;
    i = end;
    if (i < path.size() && path[i] == '.') {
      ++i;
      need_field = true;
      if (i == path.size()) return bad("ends with '.'");
    }
  }
  return steps;
}

void Select(const nlohmann::json& value, const std::vector<QueryStep>& steps, size_t at,
            std::vector<const nlohmann::json*>& out) {
  if (at == steps.size()) {
    out.push_back(&value);
    return;
  }
  const QueryStep& step = steps[at];
  if (!step.field.empty()) {
    if (!value.is_object()) return;
    auto it = value.find(step.field);
    if (it != value.end()) Select(*it, steps, at + 1, out);
    return;
  }
  if (!value.is_array()) return;
  if (step.every) {
    for (const nlohmann::json& element : value) Select(element, steps, at + 1, out);
  } else if (step.index < value.size()) {
    Select(value[step.index], steps, at + 1, out);
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

Status CheckQuery(const std::string& path) { return ParseQuery(path).status(); }

Status PrintQuery(std::ostream& out, const nlohmann::json& value, const std::string& path) {
  ASSIGN_OR_RETURN(std::vector<QueryStep> steps, ParseQuery(path));
  std::vector<const nlohmann::json*> selected;
  Select(value, steps, 0, selected);
  if (selected.empty()) {
    return NotFound("QueryNoMatch",
                    "--query \"" + path + "\" selected nothing (--output json shows the fields)");
  }
  for (const nlohmann::json* v : selected) {
    out << (v->is_structured() ? v->dump() : CellText(*v)) << "\n";
  }
  return Status::Ok();
}

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
