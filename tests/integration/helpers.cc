#include "integration/helpers.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "api/oss_client.h"
#include "api/params.h"
#include "api/signature.h"
#include "common/clock.h"
#include "common/fs_util.h"
#include "common/ids.h"
#include "copy/peer_auth.h"
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

json DescribeImageIn(EcsClient& client, const std::string& region, const std::string& image_id) {
  json body = CallOk(client, "DescribeImages",
                     {{"RegionId", region}, {"ImageId", image_id}, {"Status", kAllImageStatuses}});
  if (!body.contains("Images") || !body["Images"].contains("Image")) {
    ADD_FAILURE() << "DescribeImages in " << region << " answered without Images.Image: " << body.dump();
    return json::array();
  }
  return body["Images"]["Image"];
}

json WaitForTaskIn(EcsClient& client, const std::string& region, const std::string& task_id,
                   std::chrono::seconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  json task;
  while (std::chrono::steady_clock::now() < until) {
    task = CallOk(client, "DescribeTaskAttribute", {{"RegionId", region}, {"TaskId", task_id}});
    if (task.value("TaskStatus", std::string()) != "Processing") return task;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ADD_FAILURE() << "task " << task_id << " in " << region << " still Processing after " << deadline.count()
                << " s: " << task.dump();
  return task;
}

std::string ImportRawImage(EcsClient& client, const std::string& region, const std::string& bucket,
                           const std::string& object, const std::string& name) {
  json started = CallOk(client, "ImportImage",
                        {{"RegionId", region},
                         {"ImageName", name},
                         {"DiskDeviceMapping.1.OSSBucket", bucket},
                         {"DiskDeviceMapping.1.OSSObject", object},
                         {"DiskDeviceMapping.1.Format", "RAW"}});
  json task = WaitForTaskIn(client, region, started.value("TaskId", std::string()));
  if (task.value("TaskStatus", std::string()) != "Finished") {
    ADD_FAILURE() << "import of " << bucket << "/" << object << " in " << region << ": " << task.dump();
    return "";
  }
  return started.value("ImageId", std::string());
}

std::string ExportImageSha256(EcsClient& client, const std::string& region, const std::string& image_id,
                              const std::string& bucket, const std::string& bucket_dir,
                              const std::string& prefix) {
  const std::string object = ExportImageObject(client, region, image_id, bucket, prefix);
  return object.empty() ? "" : FileSha256(bucket_dir + "/" + object);
}

std::string ExportImageObject(EcsClient& client, const std::string& region, const std::string& image_id,
                              const std::string& bucket, const std::string& prefix) {
  json started = CallOk(client, "ExportImage",
                        {{"RegionId", region},
                         {"ImageId", image_id},
                         {"OSSBucket", bucket},
                         {"OSSPrefix", prefix},
                         {"ImageFormat", "raw"}});
  json task = WaitForTaskIn(client, region, started.value("TaskId", std::string()));
  if (task.value("TaskStatus", std::string()) != "Finished") {
    ADD_FAILURE() << "export of " << image_id << " in " << region << ": " << task.dump();
    return "";
  }
  const std::string object = RelatedItem(task, "OSSObject");
  if (object.empty()) ADD_FAILURE() << "export task names no OSSObject: " << task.dump();
  return object;
}

namespace {
OssClient RootOss(const std::string& oss_endpoint) {
  OssClientConfig config;
  config.endpoint = oss_endpoint;
  config.access_key_id = kRootKeyId;
  config.access_key_secret = kRootKeySecret;
  return OssClient(config);
}
}  // namespace

void CreateBucketAsRoot(const std::string& oss_endpoint, const std::string& bucket) {
  Status made = RootOss(oss_endpoint).CreateBucket(bucket);
  ASSERT_TRUE(made.ok()) << made.ToString();
}

void UploadAsRoot(const std::string& oss_endpoint, const std::string& bucket, const std::string& key,
                  const std::string& path) {
  OssClient oss = RootOss(oss_endpoint);
  Status made = oss.CreateBucket(bucket);
  ASSERT_TRUE(made.ok()) << made.ToString();
  Status put = oss.UploadFile(path, bucket, key, "", nullptr);
  ASSERT_TRUE(put.ok()) << put.ToString();
}

std::string DownloadedSha256(const std::string& oss_endpoint, const std::string& bucket,
                             const std::string& key, const std::string& scratch_file) {
  Status got = RootOss(oss_endpoint).DownloadFile(bucket, key, scratch_file, "", nullptr);
  if (!got.ok()) {
    ADD_FAILURE() << "download of " << bucket << "/" << key << ": " << got.ToString();
    return "";
  }
  std::string sha = FileSha256(scratch_file);
  std::filesystem::remove(scratch_file);
  return sha;
}

int64_t MetricValue(const std::string& exposition, const std::string& name, const std::string& region) {
  const std::string key = name + "{region=\"" + region + "\"} ";
  std::istringstream lines(exposition);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(key, 0) == 0) return std::stoll(line.substr(key.size()));
  }
  return -1;
}

int64_t ApiRequests(const std::string& exposition, const std::string& action) {
  const std::string key = "ferry_api_requests_total{action=\"" + action + "\",";
  int64_t total = 0;
  std::istringstream lines(exposition);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(key, 0) != 0) continue;
    const size_t space = line.rfind(' ');
    if (space != std::string::npos) total += std::stoll(line.substr(space + 1));
  }
  return total;
}

FerryCluster::FerryCluster(const std::string& scratch_prefix, std::vector<std::vector<std::string>> regions)
    : scratch_(scratch_prefix), regions_(std::move(regions)), cluster_key_("cluster-" + RandomHex(16)) {
  for (size_t i = 0; i < regions_.size(); ++i) {
    ports_.push_back(FreeLoopbackPort());
    endpoints_.push_back("http://127.0.0.1:" + std::to_string(ports_.back()));
    extra_args_.emplace_back();
    keys_.push_back(cluster_key_);
    const std::string base = scratch_.path() + "/p" + std::to_string(i);
    std::filesystem::create_directories(base + "/data/oss/" + kOperatorBucket);
    std::filesystem::create_directories(base + "/config");
    servers_.push_back(std::make_unique<FerryServer>(base + "/data", base + "/config"));
  }
}

FerryCluster::~FerryCluster() {
  for (auto& server : servers_) server->Stop(std::chrono::seconds(10));
}

void FerryCluster::set_extra_args(size_t i, std::vector<std::string> args) { extra_args_.at(i) = std::move(args); }

void FerryCluster::set_cluster_key(size_t i, std::string key) { keys_.at(i) = std::move(key); }

std::string FerryCluster::DataDir(size_t i) const { return servers_.at(i)->data_dir(); }

std::string FerryCluster::BucketDir(size_t i) const { return DataDir(i) + "/oss/" + kOperatorBucket; }

bool FerryCluster::Start(size_t i, std::string* error) {
  // The key from a file, as the README shows: never on the command line.
  const std::string key_file = scratch_.path() + "/p" + std::to_string(i) + "/cluster-key";
  std::ofstream(key_file, std::ios::trunc) << keys_.at(i) << "\n";
  std::filesystem::permissions(key_file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::replace);
  std::vector<std::string> args = {"--cluster-key-file", key_file};
  for (const std::string& region : regions_.at(i)) {
    args.push_back("--region");
    args.push_back(region);
  }
  if (auto leading = leading_args_.find(i); leading != leading_args_.end()) {
    args.insert(args.end(), leading->second.begin(), leading->second.end());
  }
  for (size_t j = 0; j < regions_.size(); ++j) {
    if (j == i) continue;
    for (const std::string& region : regions_[j]) {
      // Another node of a region this process serves is no peer.
      if (std::find(regions_[i].begin(), regions_[i].end(), region) != regions_[i].end()) continue;
      args.push_back("--peer");
      args.push_back(region + "=" + endpoints_[j]);
    }
  }
  args.insert(args.end(), extra_args_[i].begin(), extra_args_[i].end());
  FerryServer& server = *servers_[i];
  server.set_listen("127.0.0.1:" + std::to_string(ports_[i]));
  server.set_extra_args(std::move(args));
  if (!server.Start(error)) {
    *error = "process " + std::to_string(i) + " (" + endpoints_[i] + "): " + *error;
    return false;
  }
  if (server.endpoint() != endpoints_[i]) {
    *error = "process " + std::to_string(i) + " listens on " + server.endpoint() + ", expected " + endpoints_[i];
    return false;
  }
  return true;
}

bool FerryCluster::StartAll(std::string* error) {
  for (size_t i = 0; i < servers_.size(); ++i) {
    if (!Start(i, error)) return false;
  }
  return true;
}

std::string FerryCluster::Logs() const {
  std::string out;
  for (size_t i = 0; i < servers_.size(); ++i) {
    out += "---- process " + std::to_string(i) + " log:\n" + servers_[i]->Log();
  }
  return out;
}

std::string RootSignedV1Target(std::map<std::string, std::string> params) {
  params.emplace("AccessKeyId", kRootKeyId);
  params.emplace("SignatureMethod", "HMAC-SHA1");
  params.emplace("SignatureVersion", "1.0");
  params.emplace("SignatureNonce", RandomHex(16));
  params.emplace("Timestamp", FormatTimeSeconds(SystemClock::Get().Now()));
  params.emplace("Version", "2014-05-26");
  params.emplace("Format", "JSON");
  params["Signature"] = V1Signature(kRootKeySecret, V1StringToSign("GET", params));
  std::string target = "/?";
  for (const auto& [k, v] : params) {
    target += std::string(target.size() > 2 ? "&" : "") + PercentEncode(k) + "=" + PercentEncode(v);
  }
  return target;
}

HttpAnswer SendHttp(const std::string& endpoint, const std::string& method, const std::string& target,
                    const std::map<std::string, std::string>& headers, const std::string& body) {
  namespace asio = boost::asio;
  namespace beast = boost::beast;
  namespace http = beast::http;
  using nlohmann::json;
  const std::string hostport = endpoint.substr(std::string("http://").size());
  const size_t colon = hostport.rfind(':');
  asio::io_context ioc;
  asio::ip::tcp::resolver resolver(ioc);
  beast::tcp_stream stream(ioc);
  beast::error_code ec;
  stream.expires_after(std::chrono::seconds(30));
  stream.connect(resolver.resolve(hostport.substr(0, colon), hostport.substr(colon + 1)), ec);
  if (ec) return {-1, json{{"Transport", ec.message()}}};
  http::request<http::string_body> request{http::string_to_verb(method), target, 11};
  request.set(http::field::host, hostport);
  request.body() = body;
  if (!body.empty() || method == "PUT" || method == "POST") request.prepare_payload();
  for (const auto& [name, value] : headers) request.set(name, value);
  http::write(stream, request, ec);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  if (!ec) http::read(stream, buffer, response, ec);
  if (ec) return {-1, json{{"Transport", ec.message()}}};
  json parsed = json::parse(response.body(), nullptr, false);
  if (parsed.is_discarded()) parsed = json{{"Raw", response.body()}};
  return {static_cast<int>(response.result_int()), parsed};
}

std::map<std::string, std::string> PeerSignedHeaders(const std::string& key, const std::string& method,
                                                     const std::string& target, const std::string& body) {
  const std::string date = FormatTimeSeconds(SystemClock::Get().Now());
  const std::string nonce = NewPeerNonce();
  return {{kPeerDateHeader, date},
          {kPeerNonceHeader, nonce},
          {kPeerSignatureHeader, SignPeerRequest(key, method, target, date, nonce, body)}};
}

int RunQemuIo(const std::string& path, const std::string& command) {
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    ::execlp("qemu-io", "qemu-io", "-c", command.c_str(), "-f", "qcow2", path.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

std::string ReadRange(const std::string& path, uint64_t offset, size_t length) {
  std::string out(length, '\0');
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_GE(fd, 0) << path;
  if (fd < 0) return "";
  EXPECT_EQ(::pread(fd, out.data(), length, static_cast<off_t>(offset)), static_cast<ssize_t>(length)) << path;
  ::close(fd);
  return out;
}

}  // namespace ferry::testing
