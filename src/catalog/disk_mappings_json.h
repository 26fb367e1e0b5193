// The `disks` column of the images table: an image's disk mappings as JSON
// text, unchanged since schema version 1.
//
//   [{"detected_content":"gpt: ext4","detected_format":"raw","device":"/dev/xvda",
//     "format":"RAW","import_bucket":"b","import_object":"o","size_gib":40,
//     "snapshot_id":"s-...","type":"system"}, ...]
//
// One object per disk, in the image's order. Members: snapshot_id, device,
// type, format, import_bucket, import_object (strings) and size_gib (an
// unsigned integer) are required; detected_format and detected_content
// (strings) are absent in rows written before imports recorded them. Other
// members are ignored. The encoder writes nlohmann::json's dump: members in
// key order, no whitespace, UTF-8.
//
// Decoding is on DescribeImages' hot path (one row per listed image), so the
// decoder reads text in exactly the shape the encoder writes when its
// strings need no unescaping (printable ASCII without '"' or '\'; almost
// every row) without a general JSON parser, and hands anything else (escapes,
// non-ASCII, whitespace, members out of order, another writer's text) to
// nlohmann::json. Both give the same mappings for any text the first
// accepts (DiskMappingsJsonTest checks them against each other).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "catalog/catalog.h"
#include "common/status.h"

namespace ferry::catalog_sql {

// Errors name the image: a string that is not UTF-8 cannot be stored
// (kInvalidArgument); unreadable stored text is kDataLoss.
Result<std::string> EncodeDiskMappings(const std::vector<DiskMapping>& disks, std::string_view image_id);
Result<std::vector<DiskMapping>> DecodeDiskMappings(std::string_view text, std::string_view image_id);

// The general decoder alone (nlohmann::json), for tests that compare.
Result<std::vector<DiskMapping>> DecodeDiskMappingsWithParser(std::string_view text, std::string_view image_id);

}  // namespace ferry::catalog_sql
