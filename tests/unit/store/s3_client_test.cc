// S3Client against a real Ceph RADOS Gateway (ThrowawayCeph), which checks
// every signature and payload hash; plus its URI and credential parsing, and
// its retries against a fake server that fails on purpose.
#include "store/s3_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "store_test_util.h"
#include "throwaway_ceph.h"

namespace ferry {
namespace {

using testing_util::RandomBytes;
using testing_util::ScratchDir;

TEST(S3UriTest, ParsesBucketPrefixEndpointAndRegion) {
  auto loc = ParseS3Uri("s3://ferry-hz/nodes/a?endpoint=http://rgw-a:8000&region=cn-hangzhou");
  ASSERT_TRUE(loc.ok()) << loc.status().ToString();
  EXPECT_EQ(loc->bucket, "ferry-hz");
  EXPECT_EQ(loc->prefix, "nodes/a/");
  EXPECT_EQ(loc->endpoint, "http://rgw-a:8000");
  EXPECT_EQ(loc->region, "cn-hangzhou");
  EXPECT_EQ(loc->ToString(), "s3://ferry-hz/nodes/a?endpoint=http://rgw-a:8000&region=cn-hangzhou");

  loc = ParseS3Uri("s3://ferry-hz?endpoint=https%3A%2F%2Fs3.example.com%2F");
  ASSERT_TRUE(loc.ok()) << loc.status().ToString();
  EXPECT_EQ(loc->prefix, "");
  EXPECT_EQ(loc->endpoint, "https://s3.example.com");
  EXPECT_EQ(loc->region, "us-east-1");
}

TEST(S3UriTest, RefusesWhatS3WouldNot) {
  for (const char* bad :
       {"http://bucket?endpoint=http://h:1", "s3://?endpoint=http://h:1", "s3://Upper?endpoint=http://h:1",
        "s3://ab?endpoint=http://h:1", "s3://bucket", "s3://bucket?endpoint=ftp://h",
        "s3://bucket?endpoint=http://h/path", "s3://bucket?endpoint=http://h:1&colour=blue",
        "s3://bucket/a b?endpoint=http://h:1", "s3://bucket/a//b?endpoint=http://h:1",
        "s3://bucket?endpoint=http://h:99999", "s3://bucket?endpoint=%zz"}) {
    auto loc = ParseS3Uri(bad);
    EXPECT_EQ(loc.status().code(), Code::kInvalidArgument) << bad;
  }
}

// Sets an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name); old != nullptr) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(S3CredentialsTest, FromTheEnvironmentThenTheSharedFileByProfile) {
  ScratchDir dir;
  const std::string file = dir.Sub("credentials");
  std::ofstream(file)
      << "# comment\n[default]\naws_access_key_id = DEFAULTKEY\naws_secret_access_key=default/secret\n"
         "\n[ ceph ]\n  aws_access_key_id = CEPHKEY  \naws_secret_access_key = cephsecret\n";
  ScopedEnv no_id("AWS_ACCESS_KEY_ID", "");
  ScopedEnv no_secret("AWS_SECRET_ACCESS_KEY", "");
  ScopedEnv path("AWS_SHARED_CREDENTIALS_FILE", file);
  {
    ScopedEnv profile("AWS_PROFILE", "");
    auto c = S3CredentialsFromEnvironment();
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_EQ(c->access_key_id, "DEFAULTKEY");
    EXPECT_EQ(c->secret_access_key, "default/secret");
  }
  {
    ScopedEnv profile("AWS_PROFILE", "ceph");
    auto c = S3CredentialsFromEnvironment();
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_EQ(c->access_key_id, "CEPHKEY");
    EXPECT_EQ(c->secret_access_key, "cephsecret");
  }
  {
    ScopedEnv profile("AWS_PROFILE", "absent");
    auto c = S3CredentialsFromEnvironment();
    EXPECT_EQ(c.status().code(), Code::kFailedPrecondition);
    EXPECT_NE(c.status().message().find(file), std::string::npos) << c.status().ToString();
    EXPECT_NE(c.status().message().find("[absent]"), std::string::npos) << c.status().ToString();
  }
  ScopedEnv id("AWS_ACCESS_KEY_ID", "ENVKEY");
  ScopedEnv secret("AWS_SECRET_ACCESS_KEY", "envsecret");
  auto c = S3CredentialsFromEnvironment();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->access_key_id, "ENVKEY") << "the environment comes first";
}

// A server on loopback that answers its first `failures` requests with
// `status` (or closes the connection when status is 0), then 200 with
// `body` (a GET) or no body (a HEAD), whatever the request's Range. For the
// client's retries and its handling of odd servers only.
class FlakyServer {
 public:
  FlakyServer(int failures, int status, std::string body = "")
      : failures_(failures), status_(status), body_(std::move(body)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~FlakyServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int requests() const { return requests_; }

 private:
  void Serve() {
    while (!stop_) {
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      char buf[8192];
      std::string head;
      while (head.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = ::read(c, buf, sizeof buf);
        if (n <= 0) break;
        head.append(buf, static_cast<size_t>(n));
      }
      const int i = requests_++;
      std::string answer;
      if (i < failures_ && status_ == 0) {
        ::close(c);
        continue;
      }
      if (i < failures_) {
        answer = "HTTP/1.1 " + std::to_string(status_) +
                 " Failing\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      } else if (head.starts_with("GET ")) {
        answer = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body_.size()) +
                 "\r\nConnection: close\r\n\r\n" + body_;
      } else {
        answer = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      }
      (void)!::write(c, answer.data(), answer.size());
      ::close(c);
    }
  }

  int fd_ = -1;
  int port_ = 0;
  const int failures_;
  const int status_;
  const std::string body_;
  std::atomic<int> requests_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

S3Location LocationAt(const std::string& endpoint) {
  S3Location loc;
  loc.bucket = "flaky";
  loc.endpoint = endpoint;
  return loc;
}

S3Options QuickRetries(int attempts) {
  S3Options o;
  o.max_attempts = attempts;
  o.first_backoff = std::chrono::milliseconds(1);
  return o;
}

TEST(S3RetryTest, RetriesServerErrorsAndDroppedConnectionsThenSucceeds) {
  for (int status : {503, 500, 429, 0}) {
    FlakyServer server(2, status);
    auto client = S3Client::Open(LocationAt(server.endpoint()), {"K", "S"}, QuickRetries(5));
    ASSERT_TRUE(client.ok()) << status << ": " << client.status().ToString();
    EXPECT_EQ(server.requests(), 3) << status;
    EXPECT_EQ((*client)->retries(), 2u) << status;
  }
}

TEST(S3RetryTest, GivesUpAfterItsAttemptsAsUnavailable) {
  FlakyServer server(100, 503);
  auto client = S3Client::Open(LocationAt(server.endpoint()), {"K", "S"}, QuickRetries(3));
  EXPECT_EQ(client.status().code(), Code::kUnavailable) << client.status().ToString();
  EXPECT_EQ(server.requests(), 3);
  EXPECT_NE(client.status().message().find("503"), std::string::npos) << client.status().ToString();
}

TEST(S3RetryTest, DoesNotRetryAClientError) {
  FlakyServer server(100, 400);
  auto client = S3Client::Open(LocationAt(server.endpoint()), {"K", "S"}, QuickRetries(5));
  EXPECT_FALSE(client.ok());
  EXPECT_EQ(server.requests(), 1);
}

TEST(S3RetryTest, AnEndpointWhereNothingListensIsUnavailable) {
  int port = 0;
  {
    FlakyServer gone(0, 200);  // takes a free port, then frees it
    port = std::stoi(gone.endpoint().substr(gone.endpoint().rfind(':') + 1));
  }
  auto client =
      S3Client::Open(LocationAt("http://127.0.0.1:" + std::to_string(port)), {"K", "S"}, QuickRetries(2));
  EXPECT_EQ(client.status().code(), Code::kUnavailable) << client.status().ToString();
  EXPECT_NE(client.status().message().find("does not answer"), std::string::npos)
      << client.status().ToString();
}

TEST(S3FakeServerTest, ARangeAServerIgnoredIsCutFromTheWholeObject) {
  FlakyServer server(0, 200, "0123456789");
  auto client = S3Client::Open(LocationAt(server.endpoint()), {"K", "S"}, QuickRetries(1));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto range = (*client)->GetRange("k", 3, 4);
  ASSERT_TRUE(range.ok()) << range.status().ToString();
  EXPECT_EQ(std::string(range->begin(), range->end()), "3456");
  range = (*client)->GetRange("k", 8, 100);
  ASSERT_TRUE(range.ok()) << range.status().ToString();
  EXPECT_EQ(std::string(range->begin(), range->end()), "89");
}

class S3ClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { ceph_ = new ThrowawayCeph(); }
  static void TearDownTestSuite() {
    delete ceph_;
    ceph_ = nullptr;
  }
  void SetUp() override { ASSERT_FALSE(ceph_->endpoint().empty()); }
  std::unique_ptr<S3Client> OpenNewBucket(S3Options options = {}) {
    auto client = S3Client::Open(ceph_->NewBucket("p"), ceph_->credentials(), options);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return client.ok() ? std::move(client).value() : nullptr;
  }
  static inline ThrowawayCeph* ceph_ = nullptr;
};

TEST_F(S3ClientTest, ClearErrorsAtOpenForAMissingBucketOrRefusedCredentials) {
  S3Location loc = ceph_->NewBucket();
  S3Location missing = loc;
  missing.bucket = "no-such-bucket-here";
  auto client = S3Client::Open(missing, ceph_->credentials());
  EXPECT_EQ(client.status().code(), Code::kFailedPrecondition) << client.status().ToString();
  EXPECT_NE(client.status().message().find("no bucket 'no-such-bucket-here'"), std::string::npos)
      << client.status().ToString();

  S3Credentials wrong_secret = ceph_->credentials();
  wrong_secret.secret_access_key[0] ^= 1;
  client = S3Client::Open(loc, wrong_secret);
  EXPECT_EQ(client.status().code(), Code::kPermissionDenied) << client.status().ToString();
  EXPECT_EQ(client.status().message().find(wrong_secret.secret_access_key), std::string::npos)
      << "the secret is never in a message";
  S3Credentials unknown_key = ceph_->credentials();
  unknown_key.access_key_id = "NOSUCHKEY";
  client = S3Client::Open(loc, unknown_key);
  EXPECT_EQ(client.status().code(), Code::kPermissionDenied) << client.status().ToString();
  EXPECT_NE(client.status().message().find("NOSUCHKEY"), std::string::npos) << client.status().ToString();
}

TEST_F(S3ClientTest, PutGetHeadDeleteAndRangedReads) {
  auto client = OpenNewBucket();
  ASSERT_NE(client, nullptr);
  const std::vector<uint8_t> body = RandomBytes(1'000'000, 1);
  ASSERT_TRUE(client->Put("dir/object.bin", body).ok());
  auto size = client->Head("dir/object.bin");
  ASSERT_TRUE(size.ok()) << size.status().ToString();
  EXPECT_EQ(size->value_or(0), body.size());
  auto got = client->Get("dir/object.bin", body.size());
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, body);
  EXPECT_EQ(client->Get("dir/object.bin", body.size() - 1).status().code(), Code::kDataLoss)
      << "an object larger than the caller can take is refused, not held";

  auto range = client->GetRange("dir/object.bin", 123'456, 1000);
  ASSERT_TRUE(range.ok()) << range.status().ToString();
  EXPECT_EQ(*range, std::vector<uint8_t>(body.begin() + 123'456, body.begin() + 124'456));
  range = client->GetRange("dir/object.bin", body.size() - 10, 1000);
  ASSERT_TRUE(range.ok()) << range.status().ToString();
  EXPECT_EQ(range->size(), 10u) << "a range past the end is cut at the end";
  range = client->GetRange("dir/object.bin", body.size() + 5, 10);
  ASSERT_TRUE(range.ok()) << range.status().ToString();
  EXPECT_TRUE(range->empty());

  ASSERT_TRUE(client->Delete("dir/object.bin").ok());
  size = client->Head("dir/object.bin");
  ASSERT_TRUE(size.ok());
  EXPECT_FALSE(size->has_value());
  EXPECT_EQ(client->Get("dir/object.bin", 10).status().code(), Code::kNotFound);
  EXPECT_TRUE(client->Delete("dir/object.bin").ok());
  EXPECT_EQ(client->Put("bad key", body).code(), Code::kInvalidArgument);
}

TEST_F(S3ClientTest, ListsByPrefixAcrossPages) {
  S3Options options;
  options.list_page_size = 2;  // 7 keys: four pages
  auto client = OpenNewBucket(options);
  ASSERT_NE(client, nullptr);
  std::vector<std::string> keys;
  for (int i = 0; i < 7; ++i) keys.push_back("a/key-" + std::to_string(i));
  for (const std::string& k : keys)
    ASSERT_TRUE(client->Put(k, RandomBytes(static_cast<size_t>(k.back()), 2)).ok());
  ASSERT_TRUE(client->Put("b/other", RandomBytes(5, 3)).ok());
  std::vector<S3ObjectInfo> listed;
  ASSERT_TRUE(client->List("a/", [&](const S3ObjectInfo& o) { listed.push_back(o); }).ok());
  ASSERT_EQ(listed.size(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(listed[i].key, keys[i]) << "keys come back without the location's prefix, in order";
    EXPECT_EQ(listed[i].size, static_cast<uint64_t>(keys[i].back()));
  }
  listed.clear();
  ASSERT_TRUE(client->List("", [&](const S3ObjectInfo& o) { listed.push_back(o); }).ok());
  EXPECT_EQ(listed.size(), keys.size() + 1);
}

TEST_F(S3ClientTest, MultipartUploadAssemblesItsPartsAndAbortLeavesNothing) {
  auto client = OpenNewBucket();
  ASSERT_NE(client, nullptr);
  const std::vector<uint8_t> first = RandomBytes(5 << 20, 4);
  const std::vector<uint8_t> second = RandomBytes(12345, 5);
  auto upload = client->CreateMultipartUpload("big");
  ASSERT_TRUE(upload.ok()) << upload.status().ToString();
  std::vector<std::string> etags;
  for (const auto* part : {&first, &second}) {
    auto etag = client->UploadPart("big", *upload, static_cast<int>(etags.size()) + 1, *part);
    ASSERT_TRUE(etag.ok()) << etag.status().ToString();
    etags.push_back(*etag);
  }
  ASSERT_TRUE(client->CompleteMultipartUpload("big", *upload, etags).ok());
  auto got = client->Get("big", first.size() + second.size());
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  std::vector<uint8_t> want = first;
  want.insert(want.end(), second.begin(), second.end());
  EXPECT_EQ(*got, want);

  auto aborted = client->CreateMultipartUpload("never");
  ASSERT_TRUE(aborted.ok());
  ASSERT_TRUE(client->UploadPart("never", *aborted, 1, second).ok());
  ASSERT_TRUE(client->AbortMultipartUpload("never", *aborted).ok());
  auto size = client->Head("never");
  ASSERT_TRUE(size.ok());
  EXPECT_FALSE(size->has_value());
  EXPECT_FALSE(client->CompleteMultipartUpload("never", *aborted, {"\"x\""}).ok());
}

}  // namespace
}  // namespace ferry
