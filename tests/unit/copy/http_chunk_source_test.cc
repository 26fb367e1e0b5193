// HttpChunkSource against a scripted in-process HTTP server that can answer,
// fail, corrupt, drop connections or stall on cue.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "common/clock.h"
#include "common/hash.h"
#include "copy/chunk_source.h"
#include "copy/peer_auth.h"
#include "copy/peer_wire.h"
#include "store/chunk_format.h"
#include "store/manifest.h"
#include "unit/copy/fake_peer_server.h"

namespace ferry {
namespace {

using peertest::ErrorBody;
using peertest::FakePeerServer;
using peertest::Reply;
namespace asio = peertest::asio;
namespace http = peertest::http;
using tcp = peertest::tcp;

constexpr const char* kKey = "unit-test-cluster-key-0001";
constexpr const char* kRegion = "cn-hangzhou";

std::vector<uint8_t> Pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 31 + (i >> 9));
  return v;
}

ChunkId IdOf(const std::vector<uint8_t>& v) { return Sha256::Of(std::span<const uint8_t>(v)); }

// A source region with a few chunks and one manifest, served the way
// PeerEndpoints serves them, checking every request's signature.
class PeerData {
 public:
  PeerData() {
    for (uint8_t i = 0; i < 4; ++i) {
      std::vector<uint8_t> chunk = Pattern(64 << 10, i);
      chunks_[ToHex(IdOf(chunk))] = chunk;
      ids.push_back(IdOf(chunk));
    }
    manifest = Manifest::OneEntryPerChunk(3 * 65536, 65536);
    manifest.entries[0] = ChunkEntry{false, ids[0], 65536};
    manifest.entries[2] = ChunkEntry{false, ids[1], 65536};
  }

  Reply Serve(const http::request<http::string_body>& request) {
    Status auth = VerifyPeerRequest(kKey, std::string(request.method_string()), std::string(request.target()),
                                    request.body(), std::string(request[kPeerDateHeader]),
                                    std::string(request[kPeerNonceHeader]),
                                    std::string(request[kPeerSignatureHeader]), SystemClock::Get().Now(), nullptr);
    if (!auth.ok()) return Reply{403, ErrorBody(auth.reason())};
    Result<PeerRoute> route = ParsePeerPath(std::string(request.target()));
    if (!route.ok()) return Reply{404, ErrorBody(route.status().reason())};
    if (route->kind == PeerRoute::Kind::kManifest) {
      if (route->snapshot_id != "s-known") return Reply{404, ErrorBody("InvalidSnapshotId.NotFound")};
      std::vector<uint8_t> bytes = EncodeManifest(manifest);
      return Reply{200, std::string(bytes.begin(), bytes.end())};
    }
    auto it = chunks_.find(ToHex(route->chunk_id));
    if (it == chunks_.end()) return Reply{404, ErrorBody("InvalidChunkId.NotFound")};
    return Reply{200, EncodeWireChunk(it->second)};
  }

  const std::vector<uint8_t>& chunk(const ChunkId& id) { return chunks_.at(ToHex(id)); }

  std::vector<ChunkId> ids;
  Manifest manifest;

 private:
  std::map<std::string, std::vector<uint8_t>> chunks_;
};

std::unique_ptr<ChunkSource> SourceFor(const FakePeerServer& server, const std::string& key = kKey,
                                       unsigned max_connections = 4, int timeout_ms = 10000) {
  HttpChunkSourceOptions options;
  options.base_url = server.base_url();
  options.cluster_key = key;
  options.max_connections = max_connections;
  options.timeout_ms = timeout_ms;
  return NewHttpChunkSource(options);
}

TEST(HttpChunkSourceTest, FetchesTheManifestAndVerifiedChunksWithSignedRequests) {
  PeerData data;
  FakePeerServer server([&](const auto& r) { return data.Serve(r); });
  auto source = SourceFor(server);

  Result<Manifest> manifest = source->FetchManifest(kRegion, "s-known");
  ASSERT_TRUE(manifest.ok()) << manifest.status().ToString();
  EXPECT_EQ(EncodeManifest(*manifest), EncodeManifest(data.manifest));

  for (const ChunkId& id : data.ids) {
    uint64_t wire = 0;
    Result<std::vector<uint8_t>> chunk = source->FetchChunk(kRegion, id, &wire);
    ASSERT_TRUE(chunk.ok()) << chunk.status().ToString();
    EXPECT_EQ(*chunk, data.chunk(id));
    EXPECT_EQ(wire, EncodeWireChunk(data.chunk(id)).size());
    EXPECT_LT(wire, chunk->size());  // the pattern compresses: zstd travelled
  }
  // Five sequential calls shared one kept-alive connection.
  EXPECT_EQ(server.accepted(), 1);
}

TEST(HttpChunkSourceTest, MapsPeerAnswersToStatusCodes) {
  PeerData data;
  FakePeerServer server([&](const http::request<http::string_body>& r) {
    std::string target(r.target());
    if (target.find("s-503") != std::string::npos) return Reply{503, ErrorBody("ServiceUnavailable")};
    if (target.find("s-502") != std::string::npos) return Reply{502, "<html>bad gateway</html>"};
    if (target.find("s-corrupt") != std::string::npos) return Reply{500, ErrorBody("InvalidChunk.Corrupted")};
    if (target.find("s-garbage") != std::string::npos) return Reply{200, "not a manifest"};
    return data.Serve(r);
  });
  auto source = SourceFor(server);

  Result<Manifest> missing = source->FetchManifest(kRegion, "s-unknown");
  EXPECT_EQ(missing.status().code(), Code::kNotFound) << missing.status().ToString();
  EXPECT_EQ(missing.status().reason(), "InvalidSnapshotId.NotFound");
  EXPECT_NE(missing.status().message().find("REQ-1"), std::string::npos) << missing.status().message();

  ChunkId absent = Sha256::Of(std::string_view("absent"));
  Result<std::vector<uint8_t>> no_chunk = source->FetchChunk(kRegion, absent, nullptr);
  EXPECT_EQ(no_chunk.status().code(), Code::kNotFound) << no_chunk.status().ToString();

  EXPECT_EQ(source->FetchManifest(kRegion, "s-503").status().code(), Code::kUnavailable);
  EXPECT_EQ(source->FetchManifest(kRegion, "s-502").status().code(), Code::kUnavailable);
  EXPECT_EQ(source->FetchManifest(kRegion, "s-corrupt").status().code(), Code::kDataLoss);
  Result<Manifest> garbage = source->FetchManifest(kRegion, "s-garbage");
  EXPECT_EQ(garbage.status().code(), Code::kDataLoss) << garbage.status().ToString();
  EXPECT_NE(garbage.status().message().find("s-garbage"), std::string::npos);

  auto wrong_key = SourceFor(server, "some-other-cluster-key");
  Result<Manifest> denied = wrong_key->FetchManifest(kRegion, "s-known");
  EXPECT_EQ(denied.status().code(), Code::kPermissionDenied) << denied.status().ToString();
  EXPECT_EQ(denied.status().reason(), "Forbidden.PeerSignature");
}

TEST(HttpChunkSourceTest, WrongBytesAreDataLoss) {
  PeerData data;
  FakePeerServer server([&](const http::request<http::string_body>&) {
    // Whatever is asked, answer with chunk 3's body.
    return Reply{200, EncodeWireChunk(data.chunk(data.ids[3]))};
  });
  auto source = SourceFor(server);
  Result<std::vector<uint8_t>> chunk = source->FetchChunk(kRegion, data.ids[0], nullptr);
  ASSERT_EQ(chunk.status().code(), Code::kDataLoss) << chunk.status().ToString();
  EXPECT_NE(chunk.status().message().find(ToHex(data.ids[0])), std::string::npos);
  EXPECT_NE(chunk.status().message().find(ToHex(data.ids[3])), std::string::npos);
}

TEST(HttpChunkSourceTest, AnAnswerLargerThanTheChunkCanBeIsRefusedUnread) {
  // A peer answering a 64 KiB chunk with 8 MiB: refused before the body is
  // read, so the caller never holds more than the chunk it asked for (the
  // client's own limit is 1 GiB, the largest chunk of the format).
  PeerData data;
  const std::string huge(8 << 20, 'x');
  FakePeerServer server([&](const http::request<http::string_body>& r) {
    return r.target().find(ToHex(data.ids[2])) != std::string_view::npos ? Reply{200, huge} : data.Serve(r);
  });
  auto source = SourceFor(server);
  uint64_t wire = 0;
  Result<std::vector<uint8_t>> object = source->FetchChunkObject(kRegion, data.ids[2], 65536, &wire);
  ASSERT_EQ(object.status().code(), Code::kInternal) << object.status().ToString();
  EXPECT_NE(object.status().message().find(std::to_string(MaxChunkObjectSize(65536))), std::string::npos)
      << object.status().ToString();
  // The chunks of the length asked for come whole.
  object = source->FetchChunkObject(kRegion, data.ids[0], 65536, &wire);
  ASSERT_TRUE(object.ok()) << object.status().ToString();
  EXPECT_EQ(wire, object->size());
  Result<std::vector<uint8_t>> plaintext = DecodeChunkObject(*object);
  ASSERT_TRUE(plaintext.ok()) << plaintext.status().ToString();
  EXPECT_EQ(*plaintext, data.chunk(data.ids[0]));
}

TEST(HttpChunkSourceTest, ConnectionRefusedIsUnavailable) {
  uint16_t port = 0;
  {
    asio::io_context ioc;
    tcp::acceptor probe(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = probe.local_endpoint().port();
  }  // closed: nothing listens there now
  HttpChunkSourceOptions options;
  options.base_url = "http://127.0.0.1:" + std::to_string(port);
  options.cluster_key = kKey;
  auto source = NewHttpChunkSource(options);
  Result<Manifest> r = source->FetchManifest(kRegion, "s-known");
  EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status().ToString();
  EXPECT_NE(r.status().message().find("127.0.0.1:" + std::to_string(port)), std::string::npos);
}

TEST(HttpChunkSourceTest, ReconnectsOnceWhenAKeptAliveConnectionWasClosed) {
  PeerData data;
  FakePeerServer server([&](const auto& r) {
    Reply reply = data.Serve(r);
    reply.close_after = true;  // says keep-alive, then hangs up
    return reply;
  });
  auto source = SourceFor(server);
  for (const ChunkId& id : {data.ids[0], data.ids[1], data.ids[2]}) {
    Result<std::vector<uint8_t>> chunk = source->FetchChunk(kRegion, id, nullptr);
    ASSERT_TRUE(chunk.ok()) << chunk.status().ToString();
    EXPECT_EQ(*chunk, data.chunk(id));
  }
  EXPECT_EQ(server.accepted(), 3);
}

TEST(HttpChunkSourceTest, AFreshConnectionThatDropsIsUnavailableWithoutRetry) {
  FakePeerServer server([](const auto&) { return Reply{.drop = true}; });
  auto source = SourceFor(server);
  Result<Manifest> r = source->FetchManifest(kRegion, "s-known");
  EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status().ToString();
  EXPECT_EQ(server.accepted(), 1);
}

TEST(HttpChunkSourceTest, AStalledPeerTimesOutAsUnavailable) {
  FakePeerServer server([](const auto&) { return Reply{.stall = true}; });
  auto source = SourceFor(server, kKey, 1, /*timeout_ms=*/200);
  Result<Manifest> r = source->FetchManifest(kRegion, "s-known");
  EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status().ToString();
  // A timed-out request is not repeated.
  EXPECT_EQ(server.accepted(), 1);
}

TEST(HttpChunkSourceTest, WarmReadiesConnectionsTogetherForTheFetchesToReuse) {
  PeerData data;
  std::mutex mu;
  std::condition_variable cv;
  int region_calls = 0;
  FakePeerServer server([&](const http::request<http::string_body>& r) {
    if (r.target() == PeerRegionPath(kRegion)) {
      std::unique_lock<std::mutex> lock(mu);
      ++region_calls;
      cv.notify_all();
      // Answered only once all three are in: they travel together.
      bool together = cv.wait_for(lock, std::chrono::seconds(30), [&] { return region_calls >= 3; });
      return Reply{together ? 200 : 503, "{\"RegionId\":\"r\"}"};
    }
    return data.Serve(r);
  });
  auto source = SourceFor(server, kKey, /*max_connections=*/3);
  source->Warm(kRegion, 3);
  EXPECT_EQ(region_calls, 3);
  EXPECT_EQ(server.accepted(), 3);
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      const ChunkId& id = data.ids[t % data.ids.size()];
      Result<std::vector<uint8_t>> chunk = source->FetchChunk(kRegion, id, nullptr);
      if (chunk.ok() && *chunk == data.chunk(id)) ++good;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(good.load(), 3);
  EXPECT_EQ(server.accepted(), 3) << "the fetches reused the readied connections";
}

// Broken, this test takes the full 60 s deadline instead of failing fast:
// a peer that accepts but never answers (it is stopping) must not hold a
// pull, or a shutdown waiting for it, longer than Warm's own short deadline.
TEST(HttpChunkSourceTest, WarmDoesNotWaitForAPeerThatNeverAnswers) {
  PeerData data;
  FakePeerServer server([&](const http::request<http::string_body>& r) {
    if (r.target() == PeerRegionPath(kRegion)) {
      Reply stalled;
      stalled.stall = true;
      return stalled;
    }
    return data.Serve(r);
  });
  auto source = SourceFor(server, kKey, /*max_connections=*/4, /*timeout_ms=*/60000);
  source->Warm(kRegion, 2);
  EXPECT_EQ(server.accepted(), 2);
  // The timed-out connections were dropped; fetching still works.
  Result<std::vector<uint8_t>> chunk = source->FetchChunk(kRegion, data.ids[0], nullptr);
  ASSERT_TRUE(chunk.ok()) << chunk.status().ToString();
  EXPECT_EQ(*chunk, data.chunk(data.ids[0]));
}

TEST(HttpChunkSourceTest, ConcurrentCallersShareAtMostMaxConnections) {
  PeerData data;
  FakePeerServer server([&](const auto& r) { return data.Serve(r); });
  auto source = SourceFor(server, kKey, /*max_connections=*/2);
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        const ChunkId& id = data.ids[(t + i) % data.ids.size()];
        Result<std::vector<uint8_t>> chunk = source->FetchChunk(kRegion, id, nullptr);
        if (chunk.ok() && *chunk == data.chunk(id)) ++good;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(good.load(), 60);
  EXPECT_LE(server.max_open(), 2);
  EXPECT_LE(server.accepted(), 2);
}

TEST(HttpChunkSourceTest, ABadBaseUrlFailsEveryCall) {
  HttpChunkSourceOptions options;
  options.base_url = "https://example.invalid";
  options.cluster_key = kKey;
  auto source = NewHttpChunkSource(options);
  Result<Manifest> r = source->FetchManifest(kRegion, "s-known");
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("https://example.invalid"), std::string::npos);
}

}  // namespace
}  // namespace ferry
