// Rendering of command results: an aligned text table for people, or JSON
// for scripts (--output json). Both go to stdout; diagnostics go to stderr.
//
// Threading: free functions writing to the given stream.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ferry::cli {

enum class OutputFormat { kTable, kJson };

struct Column {
  std::string header;  // shown in upper case
  std::string key;     // JSON key in each row object; "a.b" walks nested objects
};

// Columns padded to their widest cell, separated by two spaces. Missing keys
// render as "-". An empty `rows` prints the header only.
void PrintTable(std::ostream& out, const std::vector<Column>& columns, const nlohmann::json& rows);

// One "Key: value" line per field, keys aligned; nested values as compact JSON.
void PrintRecord(std::ostream& out, const nlohmann::json& record);

// Pretty JSON with a trailing newline.
void PrintJson(std::ostream& out, const nlohmann::json& value);

// A JSON scalar as display text ("" for null, numbers and bools as written).
std::string CellText(const nlohmann::json& value);

// "1.5 GiB", "512 B".
std::string HumanBytes(double bytes);

}  // namespace ferry::cli
