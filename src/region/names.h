// Validation of the user-chosen names and enumerated values that ECS
// constrains. Each check returns OK or an InvalidArgument Status whose reason
// is the documented ECS error code.
//
// Threading: pure functions.
#pragma once

#include <string>

#include "catalog/catalog.h"
#include "common/status.h"

namespace ferry {

// ImageName (and ImageFamily with reason "InvalidImageFamily.Malformed"):
// 2-128 characters; starts with a letter or a CJK character; letters, digits,
// CJK characters and . : _ - only; must not start with "acs:" or "aliyun";
// must not contain "http://" or "https://". Characters are UTF-8 code points.
Status ValidateImageName(const std::string& name, const char* reason = "InvalidImageName.Malformed");

// Description: empty, or 2-256 characters not starting with http:// or https://
// (InvalidDescription.Malformed).
Status ValidateDescription(const std::string& description);

// Enumerations, each accepted exactly as ECS spells it (InvalidParameter).
Status ValidateArchitecture(const std::string& architecture);  // i386 | x86_64 | arm64
Status ValidateOsType(const std::string& os_type);             // linux | windows
Status ValidatePlatform(const std::string& platform);          // 1-64 printable characters
Status ValidateBootMode(const std::string& boot_mode);         // BIOS | UEFI | UEFI-Preferred
Status ValidateLicenseType(const std::string& license_type);   // "" | Auto | Aliyun | BYOL

// Up to 20 tags; keys 1-128 characters, not starting with "aliyun" or
// "acs:", without http(s)://; values up to 128 characters, not starting with
// "acs:" (InvalidTagCount / InvalidTagKey.Malformed / InvalidTagValue.Malformed).
Status ValidateTags(const Tags& tags);

// Password (RunInstances, CreateInstance, ReplaceSystemDisk): 8-30
// characters (ecs-api.md 4.19), at least three of the four kinds ECS names:
// upper-case letters, lower-case letters, digits, and the special
// characters ()`~!@#$%^&*-_+=|{}[]:;'<>,.?/ ; nothing else. InvalidParameter;
// the message never quotes the password.
Status ValidatePassword(const std::string& password);

// HostName (RunInstances, CreateInstance), as ECS documents it: 2-64
// characters of letters, digits, '.' and '-', no ".." or "--", not starting
// or ending with '.' or '-'; for a Windows image 2-15 characters, no '.',
// not only digits. InvalidParameter.
Status ValidateHostName(const std::string& host_name, bool windows);

// One of Creating, Waiting, Available, UnAvailable, CreateFailed, Deprecated.
bool IsImageStatus(const std::string& status);

// Number of UTF-8 code points, or -1 if `s` is not valid UTF-8.
long Utf8Length(const std::string& s);

}  // namespace ferry
