#include "copy/failover_peer_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <vector>

namespace ferry {
namespace {

// A server of a peer region that answers every call with `answer` (a fault
// injected per test) and counts the calls.
class FakeServer final : public PeerClient {
 public:
  explicit FakeServer(std::string url) : url_(std::move(url)) {}
  void Answer(Status st) { answer_ = std::move(st); }

  Result<PeerResponse> Call(const std::string&, const std::string& target, const std::string&, int,
                            uint64_t) override {
    ++calls;
    if (!answer_.ok()) return answer_;
    PeerResponse r;
    r.status = 200;
    const std::string body = url_ + " " + target;
    r.body.assign(body.begin(), body.end());
    return r;
  }
  void Warm(const std::string&, unsigned, int) override { ++warmed; }
  std::chrono::microseconds min_round_trip() const override { return std::chrono::microseconds(0); }
  const std::string& base_url() const override { return url_; }

  std::atomic<int> calls{0};
  std::atomic<int> warmed{0};

 private:
  const std::string url_;
  Status answer_;
};

std::string BodyOf(const Result<PeerResponse>& r) {
  return r.ok() ? std::string(r->body.begin(), r->body.end()) : r.status().ToString();
}

TEST(FailoverPeerClientTest, AServerThatCannotBeReachedIsSkippedAndTheNextOneKept) {
  auto a = std::make_shared<FakeServer>("http://a");
  auto b = std::make_shared<FakeServer>("http://b");
  auto c = std::make_shared<FakeServer>("http://c");
  std::unique_ptr<PeerClient> client = NewFailoverPeerClient({a, b, c});
  EXPECT_EQ(BodyOf(client->Call("GET", "/x", "", 0, 0)), "http://a /x");
  EXPECT_EQ(client->base_url(), "http://a");

  a->Answer(Unavailable("connection refused"));
  EXPECT_EQ(BodyOf(client->Call("GET", "/y", "", 0, 0)), "http://b /y");
  EXPECT_EQ(client->base_url(), "http://b") << "the server that answered is kept";
  EXPECT_EQ(BodyOf(client->Call("GET", "/z", "", 0, 0)), "http://b /z");
  EXPECT_EQ(a->calls.load(), 2) << "a is not asked again while b answers";
  client->Warm("/ping", 2, 0);
  EXPECT_EQ(b->warmed.load(), 1);

  // b goes too: c, then back around to a once it is up again.
  b->Answer(Unavailable("reset"));
  EXPECT_EQ(BodyOf(client->Call("GET", "/w", "", 0, 0)), "http://c /w");
  c->Answer(Unavailable("timed out"));
  a->Answer(Status::Ok());
  EXPECT_EQ(BodyOf(client->Call("GET", "/v", "", 0, 0)), "http://a /v");
}

TEST(FailoverPeerClientTest, AnAnswerThatIsAnErrorIsTheCallsAnswer) {
  auto a = std::make_shared<FakeServer>("http://a");
  auto b = std::make_shared<FakeServer>("http://b");
  std::unique_ptr<PeerClient> client = NewFailoverPeerClient({a, b});
  a->Answer(NotFound("InvalidImageId.NotFound", "no such snapshot"));
  Result<PeerResponse> r = client->Call("GET", "/x", "", 0, 0);
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_EQ(b->calls.load(), 0) << "a peer that answered is not second-guessed elsewhere";
}

TEST(FailoverPeerClientTest, WhenNoServerCanBeReachedTheCallIsUnavailableAfterAskingEachOnce) {
  auto a = std::make_shared<FakeServer>("http://a");
  auto b = std::make_shared<FakeServer>("http://b");
  a->Answer(Unavailable("refused a"));
  b->Answer(Unavailable("refused b"));
  std::unique_ptr<PeerClient> client = NewFailoverPeerClient({a, b});
  Result<PeerResponse> r = client->Call("POST", "/copies", "{}", 0, 0);
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_EQ(a->calls.load(), 1);
  EXPECT_EQ(b->calls.load(), 1);
}

TEST(FailoverPeerClientTest, CallsThatStartWorkAreSpreadOverTheServersInTurn) {
  auto a = std::make_shared<FakeServer>("http://a");
  auto b = std::make_shared<FakeServer>("http://b");
  auto c = std::make_shared<FakeServer>("http://c");
  std::unique_ptr<PeerClient> client =
      NewFailoverPeerClient({a, b, c}, [](const std::string& method, const std::string& target) {
        return method == "POST" && target == "/copies";
      });
  EXPECT_EQ(BodyOf(client->Call("POST", "/copies", "", 0, 0)), "http://a /copies");
  EXPECT_EQ(BodyOf(client->Call("POST", "/copies", "", 0, 0)), "http://b /copies");
  EXPECT_EQ(BodyOf(client->Call("GET", "/copies/m-1", "", 0, 0)), "http://a /copies/m-1")
      << "other calls stay where the last answer came from";
  EXPECT_EQ(BodyOf(client->Call("POST", "/copies", "", 0, 0)), "http://c /copies");
  EXPECT_EQ(BodyOf(client->Call("POST", "/copies", "", 0, 0)), "http://a /copies");

  // A server that cannot be reached: its turn goes to the next.
  b->Answer(Unavailable("connection refused"));
  EXPECT_EQ(BodyOf(client->Call("POST", "/copies", "", 0, 0)), "http://c /copies");
  EXPECT_EQ(BodyOf(client->Call("POST", "/copies", "", 0, 0)), "http://c /copies");
  EXPECT_EQ(BodyOf(client->Call("POST", "/copies", "", 0, 0)), "http://a /copies");
  EXPECT_EQ(client->base_url(), "http://a") << "spread calls do not move the other calls";
}

}  // namespace
}  // namespace ferry
