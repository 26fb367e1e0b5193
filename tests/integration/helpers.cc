#include "integration/helpers.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <thread>

#include <gtest/gtest.h>

#include "common/fs_util.h"
#include "integration/ferry_process.h"

namespace ferry::testing {

using json = nlohmann::json;

void WriteSparseImage(const std::string& path, uint64_t size, const std::vector<Extent>& extents, uint64_t seed) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  ASSERT_TRUE(fd.valid()) << path;
  ASSERT_EQ(::ftruncate(fd.get(), static_cast<off_t>(size)), 0) << path;
  // xorshift64*: cheap, reproducible bytes that no compressor shrinks.
  uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
  std::vector<uint8_t> buf(1 << 20);
  for (const Extent& e : extents) {
    ASSERT_LE(e.offset + e.length, size);
    for (uint64_t done = 0; done < e.length;) {
      uint64_t n = std::min<uint64_t>(buf.size(), e.length - done);
      for (uint64_t i = 0; i + 8 <= n; i += 8) {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        uint64_t v = state * 0x2545F4914F6CDD1Dull;
        std::memcpy(&buf[i], &v, 8);
      }
      for (uint64_t i = n & ~7ull; i < n; ++i) buf[i] = static_cast<uint8_t>(state >> (i % 8));
      ASSERT_TRUE(PwriteFull(fd.get(), buf.data(), n, e.offset + done, path).ok());
      done += n;
    }
  }
}

EcsClient ClientFor(const std::string& endpoint, const std::string& key_id, const std::string& secret, bool use_v3) {
  ClientConfig config;
  config.endpoint = endpoint;
  config.access_key_id = key_id;
  config.access_key_secret = secret;
  config.use_v3 = use_v3;
  config.timeout_ms = 30000;
  return EcsClient(config);
}

EcsClient RootClient(const std::string& endpoint, bool use_v3) {
  return ClientFor(endpoint, kRootKeyId, kRootKeySecret, use_v3);
}

json CallOk(EcsClient& client, const std::string& action, std::map<std::string, std::string> params) {
  if (params.count("RegionId") == 0 && action != "DescribeRegions") params["RegionId"] = kRegion;
  Result<EcsResponse> resp = client.Call(action, params);
  EXPECT_TRUE(resp.ok()) << action << ": " << resp.status().ToString();
  if (!resp.ok()) return json::object();
  EXPECT_EQ(resp->http_status, 200) << action << ": " << resp->raw_body;
  return resp->body;
}

json WaitForTask(EcsClient& client, const std::string& task_id, std::chrono::seconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  json task;
  while (std::chrono::steady_clock::now() < until) {
    task = CallOk(client, "DescribeTaskAttribute", {{"TaskId", task_id}});
    if (task.value("TaskStatus", std::string()) != "Processing") return task;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ADD_FAILURE() << "task " << task_id << " still Processing after " << deadline.count() << " s: " << task.dump();
  return task;
}

json DescribeImage(EcsClient& client, const std::string& image_id) {
  json body = CallOk(client, "DescribeImages",
                     {{"ImageId", image_id}, {"Status", "Creating,Waiting,Available,UnAvailable,CreateFailed,Deprecated"}});
  if (!body.contains("Images") || !body["Images"].contains("Image")) {
    ADD_FAILURE() << "DescribeImages answer without Images.Image: " << body.dump();
    return json::array();
  }
  return body["Images"]["Image"];
}

std::string RelatedItem(const json& task, const std::string& name) {
  try {
    for (const json& op : task.at("OperationProgressSet").at("OperationProgress")) {
      for (const json& item : op.at("RelatedItemSet").at("RelatedItem")) {
        if (item.value("Name", std::string()) == name) return item.value("Value", std::string());
      }
    }
  } catch (const json::exception&) {
  }
  return "";
}

}  // namespace ferry::testing
