#include "cli/profile.h"

#include <cerrno>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "cli/config.h"
#include "common/fs_util.h"

namespace ferry::cli {

std::string ProfilesPath() {
  if (auto dir = GetEnv("FERRY_CONFIG_DIR")) return *dir + "/profiles.json";
  std::string home = GetEnv("HOME").value_or(".");
  return home + "/.ferry/profiles.json";
}

Result<ProfileMap> LoadProfiles(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return ProfileMap{};
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object())
    return InvalidArgument("", "profiles file " + path + " is not a JSON object");
  ProfileMap out;
  auto profiles = doc.find("profiles");
  if (profiles == doc.end()) return out;
  if (!profiles->is_object())
    return InvalidArgument("", "profiles file " + path + ": \"profiles\" is not an object");
  for (const auto& item : profiles->items()) {
    // Not a structured binding: clang 14 (the sanitizer builds) cannot capture one.
    const std::string& name = item.key();
    const auto& p = item.value();
    if (!p.is_object())
      return InvalidArgument("", "profiles file " + path + ": profile \"" + name + "\" is not an object");
    auto str = [&p](const char* key) {
      auto it = p.find(key);
      return it != p.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    out[name] = Profile{str("endpoint"), str("access_key_id"), str("access_key_secret"), str("region"),
                        str("oss_endpoint")};
  }
  return out;
}

Status SaveProfiles(const std::string& path, const ProfileMap& profiles) {
  nlohmann::json doc = {{"profiles", nlohmann::json::object()}};
  for (const auto& [name, p] : profiles) {
    doc["profiles"][name] = {{"endpoint", p.endpoint},
                             {"access_key_id", p.access_key_id},
                             {"access_key_secret", p.access_key_secret},
                             {"region", p.region}};
    if (!p.oss_endpoint.empty()) doc["profiles"][name]["oss_endpoint"] = p.oss_endpoint;
  }
  std::string parent = std::filesystem::path(path).parent_path().string();
  if (!parent.empty()) RETURN_IF_ERROR(MakeDirs(parent, 0700));
  return WriteFileAtomic(path, doc.dump(2) + "\n", 0600);
}

}  // namespace ferry::cli
