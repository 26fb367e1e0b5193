// SharedServerTest: a test suite fixture that starts one real `ferry serve`
// for the whole suite (with an operator bucket ready) and stops it by pid at
// the end. Derived suites name their scratch prefix:
//   class MyTest : public SharedServerTest<MyTest> {
//    public: static constexpr const char* kScratchPrefix = "ferry-my-";
//   };
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "integration/ferry_process.h"
#include "integration/helpers.h"

namespace ferry::testing {

template <typename Derived>
class SharedServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    scratch_ = std::make_unique<ScratchDir>(Derived::kScratchPrefix);
    std::filesystem::create_directories(DataDir() + "/oss/" + kOperatorBucket);
    std::filesystem::create_directories(ConfigDir());
    server_ = std::make_unique<FerryServer>(DataDir(), ConfigDir());
    start_error_.clear();
    if (!server_->Start(&start_error_)) server_.reset();
  }
  static void TearDownTestSuite() {
    if (server_ != nullptr) {
      EXPECT_EQ(server_->Stop(), 0) << server_->Log();
    }
    server_.reset();
    scratch_.reset();
  }
  void SetUp() override { ASSERT_NE(server_, nullptr) << start_error_; }

  static std::string DataDir() { return scratch_->path() + "/data"; }
  static std::string ConfigDir() { return scratch_->path() + "/config"; }
  static std::string BucketDir() { return DataDir() + "/oss/" + kOperatorBucket; }

  static inline std::unique_ptr<ScratchDir> scratch_;
  static inline std::unique_ptr<FerryServer> server_;
  static inline std::string start_error_;
};

}  // namespace ferry::testing
