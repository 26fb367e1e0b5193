// Shared steps of the integration tests: disk-image files with holes, ECS
// clients for the harness's root key, and polling a task to an end state.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/client.h"
#include "common/status.h"

namespace ferry::testing {

inline constexpr const char* kRegion = "cn-hangzhou";
// A bucket the operator made by hand under DATA/oss: owned by root.
inline constexpr const char* kOperatorBucket = "operator-images";

struct Extent {
  uint64_t offset;
  uint64_t length;
};

// Creates a sparse file of `size` bytes whose `extents` hold pseudo-random
// bytes (from `seed`) and whose other ranges are holes.
void WriteSparseImage(const std::string& path, uint64_t size, const std::vector<Extent>& extents, uint64_t seed);

EcsClient RootClient(const std::string& endpoint, bool use_v3);
EcsClient ClientFor(const std::string& endpoint, const std::string& key_id, const std::string& secret, bool use_v3);

// Calls and expects a 2xx answer; fails the test (and returns the body) otherwise.
nlohmann::json CallOk(EcsClient& client, const std::string& action, std::map<std::string, std::string> params);

// Polls DescribeTaskAttribute until the task is no longer Processing or the
// deadline passes; returns the last answer.
nlohmann::json WaitForTask(EcsClient& client, const std::string& task_id,
                           std::chrono::seconds deadline = std::chrono::seconds(90));

// DescribeImages for one id with every status; the Images.Image array.
nlohmann::json DescribeImage(EcsClient& client, const std::string& image_id);

// Value of RelatedItem `name` in a DescribeTaskAttribute answer ("" if absent).
std::string RelatedItem(const nlohmann::json& task, const std::string& name);

}  // namespace ferry::testing
