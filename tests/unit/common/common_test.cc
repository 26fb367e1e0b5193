#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <random>
#include <thread>

#include "common/clock.h"
#include "common/fs_util.h"
#include "common/hash.h"
#include "common/ids.h"
#include "common/status.h"

namespace ferry {
namespace {

TEST(StatusTest, CarriesCodeReasonAndMessage) {
  Status st = NotFound("InvalidImageId.NotFound", "image m-1 does not exist");
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Code::kNotFound);
  EXPECT_EQ(st.reason(), "InvalidImageId.NotFound");
  EXPECT_EQ(st.ToString(), "NotFound[InvalidImageId.NotFound]: image m-1 does not exist");
}

Result<int> Half(int x) {
  if (x % 2) return InvalidArgument("", "odd: " + std::to_string(x));
  return x / 2;
}

Status Quarter(int x, int* out) {
  ASSIGN_OR_RETURN(int h, Half(x));
  ASSIGN_OR_RETURN(*out, Half(h));
  return Status::Ok();
}

TEST(StatusTest, MacrosPropagate) {
  int out = 0;
  EXPECT_TRUE(Quarter(8, &out).ok());
  EXPECT_EQ(out, 2);
  Status st = Quarter(6, &out);
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_EQ(st.message(), "odd: 3");
}

TEST(HashTest, Sha256KnownVectors) {
  EXPECT_EQ(ToHex(Sha256::Of(std::string_view(""))),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(ToHex(Sha256::Of(std::string_view("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 h;
  h.Update(std::string_view("a"));
  h.Update(std::string_view("bc"));
  EXPECT_EQ(ToHex(h.Finish()), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(HashTest, HexRoundTripAndRejects) {
  Digest256 d = Sha256::Of(std::string_view("x"));
  Digest256 back{};
  ASSERT_TRUE(FromHex(ToHex(d), &back));
  EXPECT_EQ(d, back);
  EXPECT_FALSE(FromHex("zz", &back));
  EXPECT_FALSE(FromHex(std::string(64, 'g'), &back));
}

TEST(HashTest, HmacSha1OfficialEcsVector) {
  // From the ECS "Request signatures" page.
  std::string sts =
      "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1%"
      "26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-"
      "23T12%253A46%253A24Z%26Version%3D2014-05-26";
  EXPECT_EQ(Base64Encode(HmacSha1("testsecret&", sts)), "OLeaidS1JvxuMvnyHOwuJ+uX5qY=");
}

TEST(IdsTest, ResourceIdsLookLikeEcs) {
  std::string id = NewResourceId("m");
  EXPECT_TRUE(LooksLikeResourceId(id, "m")) << id;
  EXPECT_FALSE(LooksLikeResourceId(id, "s"));
  EXPECT_FALSE(LooksLikeResourceId("m-ABCDEFGHIJKLMNOPQRST", "m"));
  EXPECT_NE(NewResourceId("m"), NewResourceId("m"));
  std::string rid = NewRequestId();
  EXPECT_EQ(rid.size(), 36u);
  EXPECT_EQ(rid[14], '4');
}

// The C library's text for `t`, as FormatTimeSeconds printed it before it
// did its own arithmetic.
std::string LibcTimeText(UnixSeconds t) {
  const std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return std::string(buf, n);
}

TEST(ClockTest, FormatsSecondsAsTheCLibraryDoes) {
  // The calendar's edges: the epoch and the second before it, leap days
  // (2000 is a leap year, 1900 and 2100 are not), the ends of the
  // arithmetic's range (years 1000 and 9999) and the seconds past them.
  const UnixSeconds edges[] = {
      0,          -1,          951782400,    951868799,    951868800,    -2203891200,  4107542400,
      4107456000, 1456231584,  -30610224000, -30610224001, 253402300799, 253402300800, 2147483647,
      2147483648, -62167219200};
  for (UnixSeconds t : edges) EXPECT_EQ(FormatTimeSeconds(t), LibcTimeText(t)) << t;
  std::mt19937_64 rng(12);
  std::uniform_int_distribution<UnixSeconds> any(-30610224000, 253402300799);
  TimeText text;
  for (int i = 0; i < 200000; ++i) {
    const UnixSeconds t = any(rng);
    ASSERT_EQ(FormatTimeSecondsTo(t, text), LibcTimeText(t)) << t;
  }
}

TEST(ClockTest, FormatsAndParses) {
  EXPECT_EQ(FormatTimeSeconds(1456231584), "2016-02-23T12:46:24Z");
  EXPECT_EQ(FormatTimeMinutes(1456231584), "2016-02-23T12:46Z");
  EXPECT_EQ(ParseTime("2016-02-23T12:46:24Z").value(), 1456231584);
  EXPECT_EQ(ParseTime("2016-02-23T12:46Z").value(), 1456231560);
  EXPECT_FALSE(ParseTime("2016-02-23 12:46:24").has_value());
  EXPECT_FALSE(ParseTime("2016-13-23T12:46:24Z").has_value());
  // Fractional seconds, as older SDKs send them: the fraction is dropped.
  EXPECT_EQ(ParseTime("2016-02-23T12:46:24.229Z").value(), 1456231584);
  EXPECT_EQ(ParseTime("2016-02-23T12:46:24.5Z").value(), 1456231584);
  EXPECT_EQ(ParseTime("2016-02-23T12:46:24.123456789Z").value(), 1456231584);
  EXPECT_FALSE(ParseTime("2016-02-23T12:46:24.Z").has_value());
  EXPECT_FALSE(ParseTime("2016-02-23T12:46:24.1234567890Z").has_value());
  EXPECT_FALSE(ParseTime("2016-02-23T12:46:24.22x9Z").has_value());
  EXPECT_FALSE(ParseTime("2016-02-23T12:46.229Z").has_value());
  EXPECT_FALSE(ParseTime("2016-02-23T12:46:24Zjunk").has_value());
  EXPECT_FALSE(ParseTime("2016-02-23T12:46:24").has_value());
}

TEST(FsUtilTest, AtomicWriteReplacesAndReads) {
  std::string dir = ::testing::TempDir() + "/ferry_fs_" + RandomHex(4);
  ASSERT_TRUE(MakeDirs(dir).ok());
  std::string path = dir + "/f";
  ASSERT_TRUE(WriteFileAtomic(path, std::string("one")).ok());
  ASSERT_TRUE(WriteFileAtomic(path, std::string("two")).ok());
  auto r = ReadFileToString(path);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "two");
  EXPECT_EQ(ReadFileToString(dir + "/missing").status().code(), Code::kNotFound);
}

TEST(Base64Test, DecodeInvertsEncodeAndRefusesAnythingElse) {
  for (std::string bytes : {std::string(), std::string("f"), std::string("fo"), std::string("foo"),
                            std::string("foob"), std::string("\0\xff\x10\x80", 4)}) {
    std::string out = "junk";
    ASSERT_TRUE(Base64Decode(Base64Encode(bytes), &out)) << Base64Encode(bytes);
    EXPECT_EQ(out, bytes);
  }
  std::string out = "kept";
  for (const char* bad : {"Zg", "Zg=", "Zm9v!", "Zm=v", "Z===", "Zh==", " Zg==", "Zg==\n", "Zg==Zg=="}) {
    EXPECT_FALSE(Base64Decode(bad, &out)) << bad;
  }
  EXPECT_EQ(out, "kept") << "a refused text leaves the output alone";
}

TEST(SleepUnlessStoppedTest, SleepsItsTimeOrStopsWhenAsked) {
  std::atomic<bool> stop{false};
  EXPECT_TRUE(SleepUnlessStopped(stop, std::chrono::milliseconds(5)));
  stop = true;
  EXPECT_FALSE(SleepUnlessStopped(stop, std::chrono::hours(1))) << "already stopped: no sleep at all";
  stop = false;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    stop = true;
  });
  // An hour, cut short by the stopper (the test would hang otherwise).
  EXPECT_FALSE(SleepUnlessStopped(stop, std::chrono::hours(1), std::chrono::milliseconds(5)));
  stopper.join();
}

}  // namespace
}  // namespace ferry
