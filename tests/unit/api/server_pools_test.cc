// The server's threading contract (api/server.h, "Threading"): handlers run
// on bounded client and peer pools, forwarding holds no thread, and a full
// pool answers 503 at once. Plus WorkPool itself.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>

#include "objects/fs_object_store.h"
#include "api/client.h"
#include "api/server.h"
#include "api/work_pool.h"
#include "common/ids.h"
#include "unit/api/api_fakes.h"
#include "unit/api/fake_region.h"

namespace ferry {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using apitest::FakeAccounts;

bool PollUntil(const std::function<bool()>& done, std::chrono::seconds deadline = std::chrono::seconds(10)) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return done();
}

// Holds every "Block" call until Release().
class Gate {
 public:
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    ++entered_;
    cv_.wait(lock, [this] { return released_; });
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  int entered() {
    std::lock_guard<std::mutex> lock(mu_);
    return entered_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int entered_ = 0;
  bool released_ = false;
};

// A plain GET; the status and body.
std::pair<int, std::string> RawGet(uint16_t port, const std::string& target) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  beast::error_code ec;
  stream.expires_after(std::chrono::seconds(10));
  stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
  if (ec) return {0, ec.message()};
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, "127.0.0.1");
  http::write(stream, req, ec);
  if (ec) return {0, ec.message()};
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res, ec);
  if (ec) return {0, ec.message()};
  return {res.result_int(), res.body()};
}

class ServerPoolsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/ferry-server-pools-test-" + RandomHex(8);
    std::filesystem::create_directories(dir_ + "/oss");
    storage_ = std::make_unique<FsObjectStore>(dir_ + "/oss", apitest::kAccountId);

    // The owner of cn-remote: a server with an Echo.
    ActionTable owner_actions;
    owner_actions["Echo"] = [](ActionContext& ctx) -> Result<nlohmann::json> {
      return nlohmann::json{{"Value", ctx.params.GetOr("Value", "")}};
    };
    owner_actions["Block"] = owner_actions["Echo"];
    ServerConfig owner_config;
    owner_config.port = 0;
    auto owner = StartServer(owner_config, owner_actions, owner_regions_, accounts_, *storage_, SystemClock::Get());
    ASSERT_TRUE(owner.ok()) << owner.status().ToString();
    owner_ = std::move(owner).value();

    // The server under test: one I/O thread, two client handler threads,
    // one peer handler thread, one queued request per pool.
    // A local region that sorts before cn-remote: this process is the
    // cluster owner, so region-less calls ("Block") are answered here.
    regions_.ordered = {&local_};
    regions_.remote = {{"cn-remote", "http://127.0.0.1:" + std::to_string(owner_->port())}};
    ActionTable actions = owner_actions;
    actions["Block"] = [this](ActionContext&) -> Result<nlohmann::json> {
      gate_.Wait();
      return nlohmann::json::object();
    };
    ServerConfig config;
    config.port = 0;
    config.threads = 1;
    config.client_workers = 2;
    config.peer_workers = 1;
    config.max_queued_requests = 1;
    config.admin_listen_address = "127.0.0.1";
    auto server = StartServer(config, actions, regions_, accounts_, *storage_, SystemClock::Get());
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }

  void TearDown() override {
    gate_.Release();
    if (server_) server_->Stop();
    if (owner_) owner_->Stop();
    std::filesystem::remove_all(dir_);
  }

  EcsClient Client() {
    ClientConfig c;
    c.endpoint = "http://127.0.0.1:" + std::to_string(server_->port());
    c.access_key_id = apitest::kKeyId;
    c.access_key_secret = apitest::kSecret;
    c.timeout_ms = 30000;
    return EcsClient(c);
  }

  std::string dir_;
  FakeAccounts accounts_;
  RegionSet owner_regions_;
  actiontest::FakeRegion local_{"cn-a-local"};
  RegionSet regions_;
  Gate gate_;
  std::unique_ptr<FsObjectStore> storage_;
  std::unique_ptr<Server> owner_;
  std::unique_ptr<Server> server_;
};

TEST_F(ServerPoolsTest, WithEveryClientThreadBusyForwardsAndPeerRequestsAreStillAnsweredAndAFullQueueIs503) {
  // Both client handler threads wait in "Block".
  std::vector<std::optional<Result<EcsResponse>>> blocked(4);
  std::vector<std::thread> callers;
  // Whatever fails below, the blocked callers are let go and joined.
  struct ReleaseAndJoin {
    Gate& gate;
    std::vector<std::thread>& threads;
    ~ReleaseAndJoin() {
      gate.Release();
      for (std::thread& t : threads) {
        if (t.joinable()) t.join();
      }
    }
  } release_and_join{gate_, callers};
  std::mutex results_mu;
  auto call_block = [&](size_t i) {
    EcsClient client = Client();
    Result<EcsResponse> r = client.Call("Block", {});
    std::lock_guard<std::mutex> lock(results_mu);
    blocked[i] = std::move(r);
  };
  // One at a time: two arriving together can find the one queue slot still
  // taken by the first (no worker has picked it up yet) and get 503.
  for (size_t i = 0; i < 2; ++i) {
    callers.emplace_back(call_block, i);
    ASSERT_TRUE(PollUntil([&] { return gate_.entered() == static_cast<int>(i) + 1; })) << "entered: " << gate_.entered();
  }

  // Two more: one waits in the queue (one slot), the other is refused at once.
  for (size_t i = 2; i < 4; ++i) callers.emplace_back(call_block, i);
  std::optional<size_t> refused;
  ASSERT_TRUE(PollUntil([&] {
    std::lock_guard<std::mutex> lock(results_mu);
    for (size_t i = 2; i < 4; ++i) {
      if (blocked[i]) refused = i;
    }
    return refused.has_value();
  }));
  {
    std::lock_guard<std::mutex> lock(results_mu);
    const Result<EcsResponse>& busy = *blocked[*refused];
    ASSERT_TRUE(busy.ok()) << busy.status().ToString();
    EXPECT_EQ(busy->http_status, 503) << busy->raw_body;
    EXPECT_EQ(busy->body.value("Code", ""), "ServiceUnavailable") << busy->raw_body;
    EXPECT_FALSE(blocked[5 - *refused].has_value()) << "the other one waits in the queue";
  }
  EXPECT_EQ(gate_.entered(), 2);

  // A request for the other process's region is relayed while no client
  // thread is free: forwarding holds none.
  EcsClient client = Client();
  Result<EcsResponse> forwarded = client.Call("Echo", {{"RegionId", "cn-remote"}, {"Value", "relayed"}});
  ASSERT_TRUE(forwarded.ok()) << forwarded.status().ToString();
  EXPECT_EQ(forwarded->http_status, 200) << forwarded->raw_body;
  EXPECT_EQ(forwarded->body.value("Value", ""), "relayed") << forwarded->raw_body;

  // The peer pool answers too (its handler, not a busy answer: this server
  // has no cluster key, so the peer API refuses the caller).
  auto [peer_status, peer_body] = RawGet(server_->port(), "/ferry/peer/v1/regions/cn-remote");
  EXPECT_EQ(peer_status, 403) << peer_body;
  EXPECT_NE(peer_body.find("Forbidden.PeerSignature"), std::string::npos) << peer_body;
  // And the I/O thread still serves the cheap routes (the admin listener's
  // /healthz shares it).
  ASSERT_NE(server_->admin_port(), 0);
  EXPECT_EQ(RawGet(server_->admin_port(), "/healthz").first, 200);

  // Released, the blocked calls and the queued one finish.
  gate_.Release();
  for (std::thread& t : callers) t.join();
  std::lock_guard<std::mutex> lock(results_mu);
  for (size_t i = 0; i < 4; ++i) {
    if (i == *refused) continue;
    ASSERT_TRUE(blocked[i] && blocked[i]->ok()) << i;
    EXPECT_EQ((*blocked[i])->http_status, 200) << (*blocked[i])->raw_body;
  }
  EXPECT_EQ(gate_.entered(), 3);
}

TEST(WorkPoolTest, RefusesWhenTheQueueIsFullAndRunsWhatWasQueuedBeforeStopping) {
  WorkPool pool("test", 1, 2);
  Gate gate;
  std::atomic<int> ran{0};
  ASSERT_TRUE(pool.TrySubmit([&] {
    gate.Wait();
    ++ran;
  }));
  ASSERT_TRUE(PollUntil([&] { return gate.entered() == 1; }));
  EXPECT_TRUE(pool.TrySubmit([&] { ++ran; }));
  EXPECT_TRUE(pool.TrySubmit([&] { ++ran; }));
  EXPECT_FALSE(pool.TrySubmit([&] { ++ran; })) << "two are queued already";
  EXPECT_EQ(pool.queued(), 2u);
  EXPECT_EQ(pool.running(), 1u);
  gate.Release();
  pool.Stop();
  EXPECT_EQ(ran.load(), 3);
  EXPECT_FALSE(pool.TrySubmit([&] { ++ran; })) << "stopped";
}

TEST(WorkPoolTest, AJobThatThrowsDoesNotEndItsThread) {
  WorkPool pool("test", 1, 4);
  std::atomic<int> ran{0};
  ASSERT_TRUE(pool.TrySubmit([] { throw std::runtime_error("boom"); }));
  ASSERT_TRUE(pool.TrySubmit([&] { ++ran; }));
  pool.Stop();
  EXPECT_EQ(ran.load(), 1);
}

}  // namespace
}  // namespace ferry
