// A Ceph cluster of the test's own (scripts/throwaway-ceph.sh): a monitor, a
// memstore OSD and a RADOS Gateway on 127.0.0.1, stopped by their pids and
// removed when the object goes. Each test takes a bucket of its own with
// NewBucket().
//
// Under ctest one cluster serves the whole run (the ceph fixture of
// tests/CMakeLists.txt starts it; a cluster takes ~15 s to start) and
// FERRY_TEST_S3_ENDPOINT and FERRY_TEST_S3_CREDENTIALS name it: then this
// object only borrows it.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/ids.h"
#include "store/s3_client.h"
#include "unit/throwaway_script.h"

namespace ferry {

class ThrowawayCeph {
 public:
  // Starts the cluster; an empty endpoint() and a test failure if it cannot.
  ThrowawayCeph() : dir_(::testing::TempDir() + "/ferry_ceph_" + RandomHex(8)) {
    const char* endpoint = std::getenv("FERRY_TEST_S3_ENDPOINT");
    const char* credentials = std::getenv("FERRY_TEST_S3_CREDENTIALS");
    if (endpoint != nullptr && *endpoint != '\0' && credentials != nullptr) {
      endpoint_ = endpoint;
      borrowed_ = true;
      credentials_file_ = credentials;
      ReadCredentials(credentials_file_);
      return;
    }
    // A port of its own, so that runs in two build folders do not collide.
    port_ = 21000 + static_cast<int>(std::stoul(RandomHex(4), nullptr, 16) % 400) * 10;
    std::string out;
    const std::string command = Script() + " start " + dir_ + " " + std::to_string(port_);
    if (!RunThrowawayScript(command, &out) || !out.starts_with("http://")) {
      ADD_FAILURE() << "throwaway Ceph did not start (" << command << "): " << out;
      return;
    }
    endpoint_ = out;
    credentials_file_ = dir_ + "/credentials";
    ReadCredentials(credentials_file_);
  }
  ~ThrowawayCeph() {
    if (borrowed_) return;
    const std::string command = Script() + " stop " + dir_;
    if (std::system(command.c_str()) != 0) ADD_FAILURE() << command << " failed";
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  ThrowawayCeph(const ThrowawayCeph&) = delete;
  ThrowawayCeph& operator=(const ThrowawayCeph&) = delete;

  const std::string& endpoint() const { return endpoint_; }
  const S3Credentials& credentials() const { return credentials_; }
  // The AWS shared-credentials file holding them (AWS_SHARED_CREDENTIALS_FILE
  // for a `ferry serve --store`).
  const std::string& credentials_file() const { return credentials_file_; }

  // The `--store` URI of a location.
  static std::string UriOf(const S3Location& loc) {
    std::string uri = "s3://" + loc.bucket;
    if (!loc.prefix.empty()) uri += "/" + loc.prefix.substr(0, loc.prefix.size() - 1);
    return uri + "?endpoint=" + loc.endpoint;
  }

  // A new, empty bucket on the cluster; its location (with `prefix`).
  S3Location NewBucket(const std::string& prefix = "") {
    S3Location loc;
    loc.bucket = "t-" + RandomHex(10);
    loc.endpoint = endpoint_;
    if (!prefix.empty()) loc.prefix = prefix + "/";
    Status st = S3Client::CreateBucket(loc, credentials_);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return loc;
  }

 private:
  static std::string Script() { return std::string(FERRY_SCRIPTS_DIR) + "/throwaway-ceph.sh"; }

  // The AWS shared-credentials file the script writes.
  void ReadCredentials(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      const size_t eq = line.find(" = ");
      if (eq == std::string::npos) continue;
      const std::string name = line.substr(0, eq);
      const std::string value = line.substr(eq + 3);
      if (name == "aws_access_key_id") credentials_.access_key_id = value;
      if (name == "aws_secret_access_key") credentials_.secret_access_key = value;
    }
    if (credentials_.access_key_id.empty()) ADD_FAILURE() << "no credentials in " << path;
  }

  std::string dir_;
  int port_ = 0;
  std::string endpoint_;
  std::string credentials_file_;
  S3Credentials credentials_;
  bool borrowed_ = false;
};

}  // namespace ferry
