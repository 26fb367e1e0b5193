// CLI profiles: named endpoint + AccessKey + region sets, kept in
// $FERRY_CONFIG_DIR/profiles.json (default $HOME/.ferry/profiles.json),
// mode 0600, rewritten atomically.
//
// File format (JSON):
//   {"profiles": {"<name>": {"endpoint": "...", "access_key_id": "...",
//                             "access_key_secret": "...", "region": "...",
//                             "oss_endpoint": "..."}}}
//
// Threading: free functions; concurrent writers of the same file race
// (last rename wins) but never leave a torn file.
#pragma once

#include <map>
#include <string>

#include "common/status.h"

namespace ferry::cli {

inline constexpr const char* kDefaultProfile = "default";

struct Profile {
  std::string endpoint;
  std::string access_key_id;
  std::string access_key_secret;
  std::string region;
  std::string oss_endpoint;  // "" = none known
};

using ProfileMap = std::map<std::string, Profile>;

// $FERRY_CONFIG_DIR/profiles.json or $HOME/.ferry/profiles.json.
std::string ProfilesPath();

// A missing file is an empty map; a malformed one is an error naming it.
Result<ProfileMap> LoadProfiles(const std::string& path);
// Creates the parent directory (0700) and writes the file atomically (0600).
Status SaveProfiles(const std::string& path, const ProfileMap& profiles);

}  // namespace ferry::cli
