#include "common/catch_all.h"

#include <gtest/gtest.h>

#include <new>
#include <stdexcept>
#include <vector>

namespace ferry {
namespace {

TEST(CatchAllTest, BadAllocBecomesAnInternalStatus) {
  Status st = CatchAll("task t-1", []() -> Status { throw std::bad_alloc(); });
  EXPECT_EQ(st.code(), Code::kInternal);
  EXPECT_EQ(st.message(), "task t-1: out of memory");
}

TEST(CatchAllTest, ARealAllocationFailureIsCaught) {
#if defined(__SANITIZE_ADDRESS__)
#define FERRY_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FERRY_UNDER_ASAN 1
#endif
#endif
#ifdef FERRY_UNDER_ASAN
  // ASan's operator new reports an impossible size and aborts instead of
  // throwing; the plain build (make test) runs this test.
  GTEST_SKIP() << "AddressSanitizer aborts on an impossible allocation instead of throwing";
#endif
  // What an unbounded count from a request used to do: ask for exabytes.
  static std::vector<uint64_t> sink;  // kept, so the allocation cannot be elided
  Status st = CatchAll("manifest", [] { sink.resize(uint64_t{1} << 59); });
  EXPECT_EQ(st.code(), Code::kInternal);
  EXPECT_NE(st.message().find("manifest: "), std::string::npos) << st.message();
}

TEST(CatchAllTest, OtherExceptionsKeepTheirMessage) {
  Status st = CatchAll("request to /", [] { throw std::runtime_error("parser exploded"); });
  EXPECT_EQ(st.code(), Code::kInternal);
  EXPECT_EQ(st.message(), "request to /: unexpected exception: parser exploded");
  st = CatchAll("gc", [] { throw 42; });
  EXPECT_EQ(st.message(), "gc: unexpected non-standard exception");
}

TEST(CatchAllTest, ReturnsWhatTheFunctionReturns) {
  EXPECT_TRUE(CatchAll("x", [] {}).ok());
  EXPECT_TRUE(CatchAll("x", [] { return Status::Ok(); }).ok());
  Status st = CatchAll("x", [] { return DataLoss("chunk 3 corrupt"); });
  EXPECT_EQ(st.code(), Code::kDataLoss);
  EXPECT_EQ(st.message(), "chunk 3 corrupt");
}

}  // namespace
}  // namespace ferry
