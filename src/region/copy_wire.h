// The JSON form of a CopyTarget, the body of a remote AcceptCopy
// (POST /ferry/peer/v1/regions/{B}/copies, copy/peer_protocol.md).
//
// Every field of CopyTarget, of its ImageRecord (with disks and tags) and of
// its SnapshotRecords travels under its PascalCase name; snapshot manifests
// never do (the destination pulls them). Decoding is strict: a missing
// field, an unknown one or a value of the wrong JSON type is
// kInvalidArgument with reason "InvalidParameter" and the field's path in
// the message (e.g. "SourceImage.Disks[0].SizeGiB"), so two processes of
// different versions fail loudly instead of dropping a field.
//
// Threading: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "region/region.h"

namespace ferry {

std::string EncodeCopyTarget(const CopyTarget& target);
Result<CopyTarget> DecodeCopyTarget(std::string_view json);

}  // namespace ferry
