// PeerClient against a scripted in-process HTTP server: signed bodies, the
// mapping of peer answers to Status, and the one retry on a stale
// kept-alive connection.
#include "copy/peer_client.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "copy/peer_auth.h"
#include "unit/copy/fake_peer_server.h"

namespace ferry {
namespace {

using peertest::ErrorBody;
using peertest::FakePeerServer;
using peertest::Reply;
namespace http = peertest::http;
namespace asio = peertest::asio;
using tcp = peertest::tcp;

constexpr const char* kKey = "peer-client-test-cluster-key";

PeerClientOptions OptionsFor(const FakePeerServer& server) {
  PeerClientOptions options;
  options.base_url = server.base_url();
  options.cluster_key = kKey;
  return options;
}

std::unique_ptr<PeerClient> ClientFor(const FakePeerServer& server, int timeout_ms = 10000) {
  PeerClientOptions options = OptionsFor(server);
  options.timeout_ms = timeout_ms;
  options.max_connections = 2;
  Result<std::unique_ptr<PeerClient>> client = NewPeerClient(options);
  EXPECT_TRUE(client.ok()) << client.status().ToString();
  return client.ok() ? std::move(client).value() : nullptr;
}

// A Ferry peer's error body: the internal code travels by name.
std::string FerryError(const std::string& code, const std::string& status, const std::string& message) {
  return nlohmann::json{{"RequestId", "REQ-2"}, {"Code", code}, {"Message", message}, {"Status", status}}.dump();
}

struct Seen {
  std::string method, target, body, content_type, date, nonce, signature;
  Status auth;
};

TEST(CodeFromNameTest, InvertsCodeNameAndTreatsUnknownNamesAsInternal) {
  for (Code code : {Code::kOk, Code::kInvalidArgument, Code::kNotFound, Code::kAlreadyExists,
                    Code::kFailedPrecondition, Code::kPermissionDenied, Code::kUnauthenticated,
                    Code::kResourceExhausted, Code::kUnavailable, Code::kAborted, Code::kCancelled,
                    Code::kDataLoss, Code::kInternal}) {
    EXPECT_EQ(CodeFromName(CodeName(code)), code) << CodeName(code);
  }
  EXPECT_EQ(CodeFromName("NoSuchCode"), Code::kInternal);
  EXPECT_EQ(CodeFromName(""), Code::kInternal);
  EXPECT_EQ(CodeFromName("notfound"), Code::kInternal);
}

TEST(PeerClientTest, SignsMethodTargetAndBodyAndReturnsTheAnswer) {
  NonceCache nonces(100);  // every call carries a fresh nonce
  std::mutex mu;
  std::vector<Seen> seen;
  FakePeerServer server([&](const http::request<http::string_body>& r) {
    Seen s;
    s.method = std::string(r.method_string());
    s.target = std::string(r.target());
    s.body = r.body();
    s.content_type = std::string(r[http::field::content_type]);
    s.date = std::string(r[kPeerDateHeader]);
    s.nonce = std::string(r[kPeerNonceHeader]);
    s.signature = std::string(r[kPeerSignatureHeader]);
    s.auth = VerifyPeerRequest(kKey, s.method, s.target, s.body, s.date, s.nonce, s.signature,
                               SystemClock::Get().Now(), &nonces);
    std::lock_guard<std::mutex> lock(mu);
    seen.push_back(s);
    return Reply{.status = 200, .body = R"({"ImageId":"m-1"})", .content_type = "application/json"};
  });
  auto client = ClientFor(server);
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->base_url(), server.base_url());

  const std::string body = R"({"ImageName":"copy-of-web"})";
  Result<PeerResponse> posted = client->Call("POST", "/ferry/peer/v1/regions/cn-beijing/copies", body);
  ASSERT_TRUE(posted.ok()) << posted.status().ToString();
  EXPECT_EQ(posted->status, 200);
  EXPECT_EQ(posted->content_type, "application/json");
  EXPECT_EQ(std::string(posted->body.begin(), posted->body.end()), R"({"ImageId":"m-1"})");
  ASSERT_TRUE(client->Call("GET", "/ferry/peer/v1/regions/cn-beijing/copies/m-1").ok());
  ASSERT_TRUE(client->Call("PUT", "/ferry/peer/v1/regions/a/images/m-1/copy-leases/b/m-2").ok());
  ASSERT_TRUE(client->Call("DELETE", "/ferry/peer/v1/regions/a/images/m-1/copy-leases/b/m-2").ok());

  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].body, body);
  EXPECT_EQ(seen[0].content_type, "application/json");
  EXPECT_EQ(seen[1].method, "GET");
  EXPECT_EQ(seen[1].body, "");
  EXPECT_EQ(seen[2].method, "PUT");
  EXPECT_EQ(seen[3].method, "DELETE");
  for (const Seen& s : seen) EXPECT_TRUE(s.auth.ok()) << s.method << " " << s.auth.ToString();
  // The signature covers the body: the same headers with another body fail.
  Status replayed = VerifyPeerRequest(kKey, "POST", seen[0].target, R"({"ImageName":"other"})", seen[0].date,
                                      seen[0].nonce, seen[0].signature, SystemClock::Get().Now(), nullptr);
  EXPECT_EQ(replayed.reason(), "Forbidden.PeerSignature") << replayed.ToString();
  // All four calls shared one kept-alive connection.
  EXPECT_EQ(server.accepted(), 1);
}

TEST(PeerClientTest, LargeAndChunkedBodiesArriveWholeOnOneKeptAliveConnection) {
  // A body larger than any read buffer (read straight into place), a small
  // one, a chunked one (through the parser) and none, twice over: each
  // arrives whole and the connection stays usable between them.
  std::string large(5 << 20, '\0');
  for (size_t i = 0; i < large.size(); ++i) large[i] = static_cast<char>((i * 131) ^ (i >> 9));
  FakePeerServer server([&](const http::request<http::string_body>& req) {
    Reply r;
    if (req.target() == "/large") r.body = large;
    if (req.target() == "/small") r.body = "tiny";
    if (req.target() == "/chunked") {
      r.body = large.substr(0, 300000);
      r.chunked = true;
    }
    if (req.target() == "/none") r.status = 204;
    return r;
  });
  std::unique_ptr<PeerClient> client = ClientFor(server);
  ASSERT_NE(client, nullptr);
  for (int round = 0; round < 2; ++round) {
    Result<PeerResponse> got = client->Call("GET", "/large");
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(std::string(got->body.begin(), got->body.end()), large);
    got = client->Call("GET", "/small");
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(std::string(got->body.begin(), got->body.end()), "tiny");
    got = client->Call("GET", "/chunked");
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(std::string(got->body.begin(), got->body.end()), large.substr(0, 300000));
    got = client->Call("GET", "/none");
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(got->status, 204);
    EXPECT_TRUE(got->body.empty());
  }
  EXPECT_EQ(server.accepted(), 1);
  EXPECT_EQ(server.requests(), 8);
}

TEST(PeerClientTest, ABodyArrivingInPiecesSmallerThanWhatIsLeftArrivesWholeAndTheNextAnswerStillReads) {
  // The body is read with the socket's low-water mark raised. Pieces that
  // arrive apart, each less than what is left of the body and the last one
  // less than the mark, must all be read (a mark above what is left would
  // wait for bytes that never come, until the deadline), and the mark must
  // be back to one byte for the next answer's headers on the same
  // connection, also after a body that came at once.
  std::string body(1700 << 10, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>((i * 7919) ^ (i >> 11));
  FakePeerServer server([&](const http::request<http::string_body>& req) {
    Reply r;
    if (req.target() == "/pieces") {
      r.body = body;
      r.cut_body_at = {1, 300 << 10, 1400 << 10, 1500 << 10, (1700 << 10) - 1};
      r.pause_ms = 30;
    } else if (req.target() == "/whole") {
      r.body = body;
    } else {
      r.body = "tiny";
    }
    return r;
  });
  std::unique_ptr<PeerClient> client = ClientFor(server, /*timeout_ms=*/3000);
  ASSERT_NE(client, nullptr);
  auto expect_answer = [&](const std::string& target, const std::string& want) {
    Result<PeerResponse> got = client->Call("GET", target);
    ASSERT_TRUE(got.ok()) << target << ": " << got.status().ToString();
    EXPECT_EQ(std::string(got->body.begin(), got->body.end()), want) << target;
  };
  for (int round = 0; round < 2; ++round) {
    for (const char* target : {"/pieces", "/whole"}) {
      expect_answer(target, body);
      expect_answer("/small", "tiny");
    }
  }
  EXPECT_EQ(server.accepted(), 1);
  EXPECT_EQ(server.requests(), 8);
}

TEST(PeerClientTest, ABodyThatStopsPartWayFailsAtTheCallsDeadline) {
  FakePeerServer server([](const http::request<http::string_body>&) {
    Reply r;
    r.body = std::string(2 << 20, 'x');
    r.cut_body_at = {700 << 10};
    r.stall_in_body = true;
    return r;
  });
  std::unique_ptr<PeerClient> client = ClientFor(server, /*timeout_ms=*/300);
  ASSERT_NE(client, nullptr);
  Result<PeerResponse> got = client->Call("GET", "/ferry/peer/v1/regions/a/chunks/c");
  EXPECT_EQ(got.status().code(), Code::kUnavailable) << got.status().ToString();
  EXPECT_NE(got.status().message().find("timeout"), std::string::npos) << got.status().ToString();
}

TEST(PeerClientTest, AFerryPeersErrorKeepsItsCodeReasonAndMessage) {
  FakePeerServer server([](const http::request<http::string_body>& r) {
    std::string target(r.target());
    if (target.ends_with("/dup"))
      return Reply{400, FerryError("InvalidImageName.Duplicated", "AlreadyExists", "The name is taken.")};
    if (target.ends_with("/dry"))
      return Reply{400, FerryError("DryRunOperation", "InvalidArgument", "Request validation has been passed.")};
    if (target.ends_with("/conflict"))
      return Reply{409, FerryError("OperationDenied.ImageCopyConflict", "FailedPrecondition", "busy")};
    if (target.ends_with("/internal")) return Reply{500, FerryError("InternalError", "Internal", "bug")};
    if (target.ends_with("/down")) return Reply{503, FerryError("ServiceUnavailable", "Unavailable", "stopping")};
    if (target.ends_with("/weird")) return Reply{400, FerryError("Odd", "NoSuchCode", "odd")};
    if (target.ends_with("/ok")) return Reply{400, FerryError("Odd", "OK", "says ok")};
    return Reply{404, FerryError("InvalidImageId.NotFound", "NotFound", "The image m-9 is gone.")};
  });
  auto client = ClientFor(server);
  ASSERT_NE(client, nullptr);
  struct Case {
    std::string path;
    Code code;
    std::string reason, message;
  };
  for (const Case& c : std::vector<Case>{
           {"/dup", Code::kAlreadyExists, "InvalidImageName.Duplicated", "The name is taken."},
           {"/dry", Code::kInvalidArgument, "DryRunOperation", "Request validation has been passed."},
           {"/conflict", Code::kFailedPrecondition, "OperationDenied.ImageCopyConflict", "busy"},
           {"/internal", Code::kInternal, "InternalError", "bug"},
           {"/down", Code::kUnavailable, "ServiceUnavailable", "stopping"},
           {"/weird", Code::kInternal, "Odd", "odd"},
           {"/ok", Code::kInternal, "Odd", "says ok"},
           {"/gone", Code::kNotFound, "InvalidImageId.NotFound", "The image m-9 is gone."},
       }) {
    for (const char* method : {"GET", "POST"}) {
      Result<PeerResponse> r = client->Call(method, "/ferry/peer/v1" + c.path, "{}");
      ASSERT_FALSE(r.ok()) << c.path;
      EXPECT_EQ(r.status().code(), c.code) << c.path << " " << r.status().ToString();
      EXPECT_EQ(r.status().reason(), c.reason) << c.path;
      EXPECT_EQ(r.status().message(), c.message) << c.path;
    }
  }
}

TEST(PeerClientTest, AnswersWithoutTheStatusFieldMapFromTheHttpStatus) {
  FakePeerServer server([](const http::request<http::string_body>& r) {
    std::string target(r.target());
    if (target.ends_with("/400")) return Reply{400, ErrorBody("InvalidParameter")};
    if (target.ends_with("/403")) return Reply{403, ErrorBody("Forbidden.PeerSignature")};
    if (target.ends_with("/404")) return Reply{404, ErrorBody("InvalidSnapshotId.NotFound")};
    if (target.ends_with("/409")) return Reply{409, ErrorBody("OperationConflict")};
    if (target.ends_with("/corrupt")) return Reply{500, ErrorBody("InvalidChunk.Corrupted")};
    if (target.ends_with("/503")) return Reply{503, ErrorBody("ServiceUnavailable")};
    if (target.ends_with("/502"))
      return Reply{.status = 502, .body = "<html>bad gateway</html>", .content_type = "text/html"};
    if (target.ends_with("/html404"))
      return Reply{.status = 404, .body = "<html>no</html>", .content_type = "text/html"};
    return Reply{.status = 418, .body = "teapot", .content_type = "text/plain"};
  });
  auto client = ClientFor(server);
  ASSERT_NE(client, nullptr);
  struct Case {
    std::string path;
    int http;
    Code code;
    std::string reason;
  };
  for (const Case& c : std::vector<Case>{
           {"/400", 400, Code::kInvalidArgument, "InvalidParameter"},
           {"/403", 403, Code::kPermissionDenied, "Forbidden.PeerSignature"},
           {"/404", 404, Code::kNotFound, "InvalidSnapshotId.NotFound"},
           {"/409", 409, Code::kAborted, "OperationConflict"},
           {"/corrupt", 500, Code::kDataLoss, "InvalidChunk.Corrupted"},
           {"/503", 503, Code::kUnavailable, "ServiceUnavailable"},
           {"/502", 502, Code::kUnavailable, ""},
           {"/html404", 404, Code::kNotFound, ""},
           {"/418", 418, Code::kInternal, ""},
       }) {
    Result<PeerResponse> r = client->Call("GET", "/ferry/peer/v1" + c.path);
    ASSERT_FALSE(r.ok()) << c.path;
    EXPECT_EQ(r.status().code(), c.code) << c.path << " " << r.status().ToString();
    EXPECT_EQ(r.status().reason(), c.reason) << c.path;
    // The evidence: which peer, which call, the HTTP status, the request id.
    const std::string& m = r.status().message();
    EXPECT_NE(m.find("GET /ferry/peer/v1" + c.path), std::string::npos) << m;
    EXPECT_NE(m.find("127.0.0.1"), std::string::npos) << m;
    EXPECT_NE(m.find("HTTP " + std::to_string(c.http)), std::string::npos) << m;
    if (!c.reason.empty()) {
      EXPECT_NE(m.find("REQ-1"), std::string::npos) << m;
    }
  }
}

TEST(PeerClientTest, RepeatsAnyCallOnceWhenAKeptAliveConnectionWasClosedWhileIdle) {
  FakePeerServer server([](const http::request<http::string_body>&) {
    return Reply{.status = 200, .body = "{}", .close_after = true};  // says keep-alive, then hangs up
  });
  auto client = ClientFor(server);
  ASSERT_NE(client, nullptr);
  for (const char* method : {"POST", "PUT", "DELETE", "GET", "POST"}) {
    Result<PeerResponse> r = client->Call(method, "/ferry/peer/v1/regions/a/copies", "{}");
    ASSERT_TRUE(r.ok()) << method << " " << r.status().ToString();
  }
  // Every call after the first met a stale connection and reconnected once;
  // none reached the server twice.
  EXPECT_EQ(server.accepted(), 5);
  EXPECT_EQ(server.requests(), 5);
}

TEST(PeerClientTest, AnAnswerCutShortRepeatsAGetButNotAWrite) {
  std::mutex mu;
  int calls = 0;
  // Call 1 answers (the connection is then kept); call 2 is cut short.
  FakePeerServer server([&](const http::request<http::string_body>&) {
    std::lock_guard<std::mutex> lock(mu);
    ++calls;
    return calls % 2 == 0 ? Reply{.partial = true} : Reply{.status = 200, .body = "{}"};
  });
  auto client = ClientFor(server);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Call("PUT", "/ferry/peer/v1/x", "").ok());
  Result<PeerResponse> put = client->Call("PUT", "/ferry/peer/v1/x", "");
  EXPECT_EQ(put.status().code(), Code::kUnavailable) << put.status().ToString();
  EXPECT_EQ(server.requests(), 2);  // the write was not sent again

  ASSERT_TRUE(client->Call("GET", "/ferry/peer/v1/x").ok());  // call 3, on a new connection
  Result<PeerResponse> get = client->Call("GET", "/ferry/peer/v1/x");  // call 4 cut, call 5 answers
  EXPECT_TRUE(get.ok()) << get.status().ToString();
  EXPECT_EQ(server.requests(), 5);
}

TEST(PeerClientTest, TransportFailuresAreUnavailableAndAFreshConnectionIsNotRetried) {
  FakePeerServer dropping([](const http::request<http::string_body>&) { return Reply{.drop = true}; });
  auto client = ClientFor(dropping);
  ASSERT_NE(client, nullptr);
  Result<PeerResponse> dropped = client->Call("POST", "/ferry/peer/v1/regions/a/copies", "{}");
  EXPECT_EQ(dropped.status().code(), Code::kUnavailable) << dropped.status().ToString();
  EXPECT_EQ(dropping.requests(), 1);

  FakePeerServer stalled([](const http::request<http::string_body>&) { return Reply{.stall = true}; });
  auto slow = ClientFor(stalled, /*timeout_ms=*/200);
  ASSERT_NE(slow, nullptr);
  Result<PeerResponse> timed_out = slow->Call("GET", "/ferry/peer/v1/regions/a/copies/m-1");
  EXPECT_EQ(timed_out.status().code(), Code::kUnavailable) << timed_out.status().ToString();
  EXPECT_EQ(stalled.accepted(), 1);

  uint16_t port = 0;
  {
    asio::io_context ioc;
    tcp::acceptor probe(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = probe.local_endpoint().port();
  }  // closed: nothing listens there now
  PeerClientOptions options;
  options.base_url = "http://127.0.0.1:" + std::to_string(port);
  options.cluster_key = kKey;
  auto refused = NewPeerClient(options);
  ASSERT_TRUE(refused.ok());
  Result<PeerResponse> r = (*refused)->Call("GET", "/ferry/peer/v1/access-keys/k");
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("127.0.0.1:" + std::to_string(port)), std::string::npos);
}

TEST(PeerClientTest, AnOversizedAnswerIsRefusedWithoutRetry) {
  FakePeerServer server([](const http::request<http::string_body>&) {
    return Reply{.status = 200, .body = std::string(4096, 'x')};
  });
  PeerClientOptions options = OptionsFor(server);
  options.max_response_bytes = 1024;
  auto client = NewPeerClient(options);
  ASSERT_TRUE(client.ok());
  Result<PeerResponse> r = (*client)->Call("GET", "/ferry/peer/v1/x");
  EXPECT_EQ(r.status().code(), Code::kInternal) << r.status().ToString();
  EXPECT_NE(r.status().message().find("1024"), std::string::npos);
  EXPECT_EQ(server.requests(), 1);
}

TEST(PeerClientTest, WarmOpensTheMissingConnectionsAtOnceAndCallsReuseThem) {
  std::mutex mu;
  std::condition_variable cv;
  int seen = 0, inside = 0, most_inside = 0;  // requests arrived, in the handler now, at most
  FakePeerServer server([&](const http::request<http::string_body>&) {
    std::unique_lock<std::mutex> lock(mu);
    ++inside;
    most_inside = std::max(most_inside, inside);
    cv.notify_all();
    // The first three requests wait for each other (bounded): they only
    // meet if Warm sent them at once.
    if (++seen <= 3) cv.wait_for(lock, std::chrono::seconds(10), [&] { return seen >= 3; });
    --inside;
    return Reply{.status = 200, .body = "{}"};
  });
  PeerClientOptions options = OptionsFor(server);
  options.max_connections = 4;
  auto client = NewPeerClient(options);
  ASSERT_TRUE(client.ok());
  const std::string ping = "/ferry/peer/v1/regions/cn-a";

  (*client)->Warm(ping, 3);
  EXPECT_EQ(server.accepted(), 3);
  EXPECT_EQ(server.requests(), 3);
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(most_inside, 3) << "the three connections were opened one after another";
  }
  (*client)->Warm(ping, 3);
  EXPECT_EQ(server.requests(), 3) << "three connections were ready already";
  for (int i = 0; i < 3; ++i) ASSERT_TRUE((*client)->Call("GET", ping).ok());
  EXPECT_EQ(server.accepted(), 3) << "calls use the readied connections";
  (*client)->Warm(ping, 10);
  EXPECT_EQ(server.accepted(), 4) << "never more than max_connections";
}

TEST(PeerClientTest, AConnectionIdleLongerThanMaxIdleIsNotReused) {
  FakePeerServer server([](const http::request<http::string_body>&) { return Reply{.status = 200}; });
  PeerClientOptions options = OptionsFor(server);
  options.max_idle_ms = 5;
  auto client = NewPeerClient(options);
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE((*client)->Call("GET", "/ferry/peer/v1/x").ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE((*client)->Call("GET", "/ferry/peer/v1/x").ok());
  EXPECT_EQ(server.accepted(), 2);
  EXPECT_EQ(server.requests(), 2) << "the expired connection was closed, not tried";

  options.max_idle_ms = 60000;
  auto keeping = NewPeerClient(options);
  ASSERT_TRUE(keeping.ok());
  ASSERT_TRUE((*keeping)->Call("GET", "/ferry/peer/v1/x").ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE((*keeping)->Call("GET", "/ferry/peer/v1/x").ok());
  EXPECT_EQ(server.accepted(), 3) << "a connection idle for less than max_idle_ms is reused";
}

TEST(PeerClientTest, WarmPingsIdleConnectionsPastHalfTheirLifeSoTheyStayUsable) {
  FakePeerServer server([](const http::request<http::string_body>&) { return Reply{.status = 200}; });
  PeerClientOptions options = OptionsFor(server);
  options.max_idle_ms = 1000;
  auto client = NewPeerClient(options);
  ASSERT_TRUE(client.ok());
  const std::string ping = "/ferry/peer/v1/regions/cn-a";
  (*client)->Warm(ping, 1);
  (*client)->Warm(ping, 1);
  EXPECT_EQ(server.requests(), 1) << "a connection idle for less than half its life is left alone";
  // Idle past half its life (500 ms) but not past max_idle: pinged on the
  // same connection, then usable for another max_idle.
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  (*client)->Warm(ping, 1);
  EXPECT_EQ(server.requests(), 2);
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  ASSERT_TRUE((*client)->Call("GET", ping).ok());
  EXPECT_EQ(server.accepted(), 1) << "1.2 s after it opened, the refreshed connection is still in use";
}

TEST(PeerClientTest, TheShortestSmallAnswerGivesTheRoundTrip) {
  FakePeerServer server([](const http::request<http::string_body>& r) {
    if (r.target() == "/big") return Reply{.status = 200, .body = std::string(256 << 10, 'x')};
    if (r.target() == "/slow") std::this_thread::sleep_for(std::chrono::milliseconds(200));
    return Reply{.status = 200, .body = "{}"};
  });
  auto client = ClientFor(server);
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->min_round_trip().count(), 0) << "nothing seen yet";
  ASSERT_TRUE(client->Call("GET", "/big").ok());
  EXPECT_EQ(client->min_round_trip().count(), 0) << "a large answer times its transfer, not the trip";
  ASSERT_TRUE(client->Call("GET", "/slow").ok());
  const std::chrono::microseconds slow = client->min_round_trip();
  EXPECT_GE(slow, std::chrono::milliseconds(200));
  ASSERT_TRUE(client->Call("GET", "/fast").ok());  // no sleep: far below 200 ms
  EXPECT_GT(client->min_round_trip().count(), 0);
  EXPECT_LT(client->min_round_trip(), slow) << "the shortest one counts";
}

TEST(PeerClientTest, RefusesBadBaseUrlsAndMethods) {
  for (const char* url : {"https://example.invalid", "http://", "http://127.0.0.1:80/path", "not a url",
                          "http://127.0.0.1:8080/?q=1"}) {
    PeerClientOptions options;
    options.base_url = url;
    Result<std::unique_ptr<PeerClient>> client = NewPeerClient(options);
    ASSERT_FALSE(client.ok()) << url;
    EXPECT_EQ(client.status().code(), Code::kInvalidArgument) << url;
    EXPECT_NE(client.status().message().find(url), std::string::npos) << client.status().message();
  }
  FakePeerServer server([](const http::request<http::string_body>&) { return Reply{.status = 200}; });
  auto client = ClientFor(server);
  ASSERT_NE(client, nullptr);
  Result<PeerResponse> patch = client->Call("PATCH", "/ferry/peer/v1/x");
  EXPECT_EQ(patch.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(server.requests(), 0);
}

}  // namespace
}  // namespace ferry
