// Rendering of command results: an aligned text table for people, or JSON
// for scripts (--output json). Both go to stdout; diagnostics go to stderr.
//
// Threading: free functions writing to the given stream.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "common/status.h"

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

// --query PATH narrows what `--output json` would print, for scripts:
// IMAGE=$(ferry image import disk.raw --query ImageId). PATH is field names
// joined by '.', each optionally followed by [] (every element of an array)
// or [N] (element N, from 0); it may start with [] or [N]:
// "ImageId", "[].InstanceId", "[0].DiskId", "Images[].ImageId".
// CheckQuery refuses a malformed PATH. PrintQuery prints each selected
// value on its own line: strings as they are, other scalars as JSON text,
// objects and arrays as compact JSON. A PATH that selects nothing (a field
// that is absent, an index past the end, an empty array) fails with
// QueryNoMatch, so that `VAR=$(...)` under `set -e` stops there.
Status CheckQuery(const std::string& path);
Status PrintQuery(std::ostream& out, const nlohmann::json& value, const std::string& path);

// "1.5 GiB", "512 B".
std::string HumanBytes(double bytes);

}  // namespace ferry::cli
