#include "api/oss_client.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>

#include "api/oss_auth.h"
#include "api/oss_endpoint.h"
#include "api/oss_request.h"
#include "api/params.h"
#include "common/crc64.h"
#include "common/fs_util.h"
#include "common/hash.h"
#include "common/http_url.h"
#include "common/parallel.h"
#include "common/zero.h"
#include "objects/object_store.h"

namespace ferry {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr size_t kPieceBytes = 1 << 20;

// Whether [offset, offset + length) of `fd` has a data extent (where
// SEEK_DATA is missing, every range has).
bool HasDataExtent(int fd, uint64_t offset, uint64_t length) {
  const off_t data = ::lseek(fd, static_cast<off_t>(offset), SEEK_DATA);
  if (data < 0) return errno != ENXIO;
  return static_cast<uint64_t>(data) < offset + length;
}

// Whether the range reads as zeros: holes are, data extents are read (in
// pieces, stopping at the first non-zero piece).
Result<bool> RangeIsAllZero(int fd, uint64_t offset, uint64_t length, std::vector<uint8_t>& buf,
                            const std::string& label) {
  if (buf.empty()) buf.resize(kPieceBytes);
  const uint64_t end = offset + length;
  uint64_t pos = offset;
  while (pos < end) {
    const off_t data = ::lseek(fd, static_cast<off_t>(pos), SEEK_DATA);
    if (data < 0 && errno == ENXIO) return true;
    if (data >= 0) pos = static_cast<uint64_t>(data);
    if (pos >= end) return true;
    const off_t hole = ::lseek(fd, static_cast<off_t>(pos), SEEK_HOLE);
    const uint64_t stop = hole > static_cast<off_t>(pos) ? std::min<uint64_t>(static_cast<uint64_t>(hole), end) : end;
    while (pos < stop) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(stop - pos, buf.size()));
      RETURN_IF_ERROR(PreadFull(fd, buf.data(), n, pos, label));
      if (!IsAllZero(buf.data(), n)) return false;
      pos += n;
    }
  }
  return true;
}

std::string NormalizedEtag(std::string etag) {
  etag.erase(std::remove(etag.begin(), etag.end(), '"'), etag.end());
  std::transform(etag.begin(), etag.end(), etag.begin(), [](unsigned char c) { return std::toupper(c); });
  return etag;
}
constexpr size_t kMaxResponseBodyBytes = 64 << 20;  // XML answers

std::string EncodeKeyPath(std::string_view key) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : key) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
      out.push_back(static_cast<char>(c));
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string Target(const OssCall& call) {
  std::string target = "/";
  if (!call.bucket.empty()) target += call.bucket + "/" + EncodeKeyPath(call.key);
  char sep = '?';
  for (const auto& [name, value] : call.query) {
    target += sep + PercentEncode(name);
    if (!value.empty()) target += "=" + PercentEncode(value);
    sep = '&';
  }
  return target;
}

std::string IsoBasic(UnixSeconds t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

// The text of each <tag>...</tag> in `xml`, in order (our listing answers
// are flat enough for this; values are XML-unescaped).
std::vector<std::string> Elements(std::string_view xml, const std::string& tag) {
  std::vector<std::string> out;
  const std::string open = "<" + tag + ">", close = "</" + tag + ">";
  size_t pos = 0;
  while ((pos = xml.find(open, pos)) != std::string_view::npos) {
    size_t start = pos + open.size();
    size_t end = xml.find(close, start);
    if (end == std::string_view::npos) break;
    std::string value(xml.substr(start, end - start));
    std::string unescaped;
    for (size_t i = 0; i < value.size(); ++i) {
      if (value[i] != '&') {
        unescaped.push_back(value[i]);
        continue;
      }
      size_t semi = value.find(';', i);
      std::string entity = value.substr(i, semi == std::string::npos ? 1 : semi - i + 1);
      const char* rep = entity == "&amp;" ? "&" : entity == "&lt;" ? "<" : entity == "&gt;" ? ">"
                      : entity == "&quot;" ? "\"" : entity == "&apos;" ? "'" : nullptr;
      if (rep) {
        unescaped += rep;
        i = semi;
      } else {
        unescaped.push_back('&');
      }
    }
    out.push_back(std::move(unescaped));
    pos = end + close.size();
  }
  return out;
}

std::string First(std::string_view xml, const std::string& tag) {
  std::vector<std::string> all = Elements(xml, tag);
  return all.empty() ? "" : all.front();
}

// Reads the rest of the answer into `out` (bounded) or, for a 2xx with a
// sink, into the sink file.
Status ReadBody(beast::tcp_stream& stream, beast::flat_buffer& buffer, http::response_parser<http::buffer_body>& parser,
                const OssCall& call, OssHttpResponse* out, std::chrono::milliseconds timeout) {
  const bool to_file = call.sink_fd >= 0 && out->status >= 200 && out->status < 300;
  std::vector<char> piece(kPieceBytes);
  uint64_t written = 0;
  while (!parser.is_done()) {
    parser.get().body().data = piece.data();
    parser.get().body().size = piece.size();
    stream.expires_after(timeout);
    beast::error_code ec;
    http::read(stream, buffer, parser, ec);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) return Unavailable("reading the answer: " + ec.message());
    const size_t got = piece.size() - parser.get().body().size;
    if (got == 0) continue;
    if (to_file) {
      size_t done = 0;
      while (done < got) {
        ssize_t n = ::pwrite(call.sink_fd, piece.data() + done, got - done,
                             static_cast<off_t>(call.sink_offset + written + done));
        if (n < 0) return Internal(std::string("writing the download: ") + std::strerror(errno));
        done += static_cast<size_t>(n);
      }
      written += got;
    } else {
      if (out->body.size() + got > kMaxResponseBodyBytes) return Unavailable("the answer is too large");
      out->body.append(piece.data(), got);
    }
  }
  return Status::Ok();
}

}  // namespace

const std::string& OssHttpResponse::Header(const std::string& name) const {
  static const std::string kEmpty;
  auto it = headers.find(name);
  return it == headers.end() ? kEmpty : it->second;
}

Status OssErrorStatus(const OssHttpResponse& response) {
  std::string code = First(response.body, "Code");
  std::string message = First(response.body, "Message");
  std::string request_id = First(response.body, "RequestId");
  if (request_id.empty()) request_id = response.Header("x-oss-request-id");
  if (code.empty()) {
    code = response.status == 404 ? "NoSuchKey" : "HTTP" + std::to_string(response.status);
    message = "HTTP " + std::to_string(response.status);
  }
  Code internal = response.status == 404   ? Code::kNotFound
                  : response.status == 403 ? Code::kPermissionDenied
                  : response.status == 409 ? Code::kAlreadyExists
                  : response.status >= 500 ? Code::kUnavailable
                                           : Code::kInvalidArgument;
  return Status(internal, code, code + ": " + message + " (RequestId " + request_id + ")");
}

std::optional<std::pair<std::string, std::string>> ParseOssUrl(const std::string& url) {
  if (!url.starts_with("oss://")) return std::nullopt;
  std::string rest = url.substr(6);
  size_t slash = rest.find('/');
  if (slash == std::string::npos) return std::make_pair(rest, std::string());
  return std::make_pair(rest.substr(0, slash), rest.substr(slash + 1));
}

OssClient::OssClient(OssClientConfig config, const Clock& clock) : config_(std::move(config)), clock_(clock) {
  if (config_.endpoint.find("://") == std::string::npos) config_.endpoint = "http://" + config_.endpoint;
  while (config_.endpoint.ends_with("/")) config_.endpoint.pop_back();
}

void OssClient::Sign(OssCall& call, const std::string& host_header) const {
  call.headers["host"] = host_header;
  const UnixSeconds now = clock_.Now();
  if (!config_.v4) {
    const std::string date = FormatHttpDate(now);
    call.headers["x-oss-date"] = date;
    const std::string resource = OssV1CanonicalResource(call.bucket, call.key, call.query);
    const std::string signature =
        OssV1Signature(config_.access_key_secret, OssV1StringToSign(call.method, call.headers, date, resource));
    call.headers["authorization"] = "OSS " + config_.access_key_id + ":" + signature;
    return;
  }
  const std::string timestamp = IsoBasic(now);
  call.headers["x-oss-date"] = timestamp;
  call.headers.emplace("x-oss-content-sha256", std::string(kOssUnsignedPayload));
  const OssV4Credential scope{config_.access_key_id, timestamp.substr(0, 8), config_.region};
  const std::string canonical =
      OssV4CanonicalRequest(call.method, OssV4CanonicalUri(call.bucket, call.key), OssV4CanonicalQuery(call.query),
                            call.headers, {}, call.headers["x-oss-content-sha256"]);
  const std::string signature =
      OssV4Signature(config_.access_key_secret, scope, OssV4StringToSign(timestamp, scope, canonical));
  call.headers["authorization"] = std::string(kOssV4Algorithm) + " Credential=" + config_.access_key_id + "/" +
                                  scope.day + "/" + scope.region + "/oss/aliyun_v4_request,Signature=" + signature;
}

Result<OssHttpResponse> OssClient::Send(const OssCall& request) {
  ASSIGN_OR_RETURN(HttpBaseUrl base, ParseHttpBaseUrl(config_.endpoint));
  OssCall call = request;
  if (call.body_fd < 0) call.length = call.body.size();
  Sign(call, base.host_header);
  const auto timeout = std::chrono::milliseconds(config_.timeout_ms);
  const std::string where = call.method + " " + config_.endpoint + "/" + call.bucket + "/" + call.key;
  try {
    asio::io_context ioc;
    tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    beast::error_code ec;
    auto results = resolver.resolve(base.host, base.port, ec);
    if (ec) return Unavailable("resolving " + base.host + ": " + ec.message());
    stream.expires_after(timeout);
    stream.connect(results, ec);
    if (ec) return Unavailable("connecting to " + config_.endpoint + ": " + ec.message());

    http::request<http::empty_body> req{http::string_to_verb(call.method), Target(call), 11};
    for (const auto& [name, value] : call.headers) req.set(name, value);
    req.content_length(call.length);
    req.set(http::field::user_agent, "ferry-oss-client/0.1");
    http::request_serializer<http::empty_body> serializer{req};
    stream.expires_after(timeout);
    http::write_header(stream, serializer, ec);
    if (ec) return Unavailable(where + ": sending: " + ec.message());
    beast::error_code write_error;
    if (call.body_fd >= 0) {
      std::vector<uint8_t> piece(static_cast<size_t>(std::min<uint64_t>(kPieceBytes, call.length)));
      uint64_t sent = 0;
      while (sent < call.length && !write_error) {
        const uint64_t n = std::min<uint64_t>(piece.size(), call.length - sent);
        RETURN_IF_ERROR(PreadFull(call.body_fd, piece.data(), n, call.body_offset + sent, "upload source"));
        stream.expires_after(timeout);
        asio::write(stream, asio::buffer(piece.data(), n), write_error);
        sent += n;
      }
    } else if (!call.body.empty()) {
      stream.expires_after(timeout);
      asio::write(stream, asio::buffer(call.body), write_error);
    }
    // A server may answer before the body is complete (a refusal); read it.
    beast::flat_buffer buffer;
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(std::numeric_limits<uint64_t>::max());
    stream.expires_after(timeout);
    http::read_header(stream, buffer, parser, ec);
    if (ec) return Unavailable(where + ": " + (write_error ? write_error : ec).message());
    // Beast reads min(64 KiB, the buffer's free capacity) per receive, and
    // the header leaves little: without room a body arrives in ~512-byte
    // reads (the server's receive path had the same trap, api/server.cc).
    buffer.reserve(kPieceBytes);
    OssHttpResponse out;
    out.status = static_cast<int>(parser.get().result_int());
    for (const auto& field : parser.get()) {
      std::string name(field.name_string());
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      out.headers[name] = std::string(field.value());
    }
    if (call.method != "HEAD") RETURN_IF_ERROR(ReadBody(stream, buffer, parser, call, &out, timeout));
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    return out;
  } catch (const std::exception& e) {
    return Unavailable(where + ": " + e.what());
  }
}

Result<OssHttpResponse> OssClient::SendOk(const OssCall& call) {
  ASSIGN_OR_RETURN(OssHttpResponse response, Send(call));
  if (response.status < 200 || response.status >= 300) {
    if (response.body.empty() && !response.Header("x-oss-err").empty()) {
      std::string xml;
      if (Base64Decode(response.Header("x-oss-err"), &xml)) response.body = xml;
    }
    return OssErrorStatus(response);
  }
  return response;
}

Result<std::vector<std::string>> OssClient::ListBuckets() {
  std::vector<std::string> out;
  std::string marker;
  for (;;) {
    OssCall call;
    call.query["max-keys"] = "1000";
    if (!marker.empty()) call.query["marker"] = marker;
    ASSIGN_OR_RETURN(OssHttpResponse response, SendOk(call));
    std::string buckets = First(response.body, "Buckets");
    for (std::string& name : Elements(buckets, "Name")) out.push_back(std::move(name));
    if (First(response.body, "IsTruncated") != "true") return out;
    marker = First(response.body, "NextMarker");
    if (marker.empty()) return out;
  }
}

Status OssClient::CreateBucket(const std::string& bucket) {
  OssCall call;
  call.method = "PUT";
  call.bucket = bucket;
  return SendOk(call).status();
}

Result<OssListing> OssClient::ListObjects(const std::string& bucket, const std::string& prefix,
                                          const std::string& delimiter) {
  OssListing out;
  std::string token;
  for (;;) {
    OssCall call;
    call.bucket = bucket;
    call.query = {{"list-type", "2"}, {"max-keys", "1000"}, {"encoding-type", "url"}};
    if (!prefix.empty()) call.query["prefix"] = prefix;
    if (!delimiter.empty()) call.query["delimiter"] = delimiter;
    if (!token.empty()) call.query["continuation-token"] = token;
    ASSIGN_OR_RETURN(OssHttpResponse response, SendOk(call));
    for (const std::string& contents : Elements(response.body, "Contents")) {
      OssObjectSummary summary;
      summary.key = UrlDecode(First(contents, "Key"), false);
      summary.size = std::strtoull(First(contents, "Size").c_str(), nullptr, 10);
      summary.etag = First(contents, "ETag");
      summary.last_modified = First(contents, "LastModified");
      out.objects.push_back(std::move(summary));
    }
    for (const std::string& common : Elements(response.body, "CommonPrefixes")) {
      out.prefixes.push_back(UrlDecode(First(common, "Prefix"), false));
    }
    if (First(response.body, "IsTruncated") != "true") return out;
    token = First(response.body, "NextContinuationToken");
    if (token.empty()) return out;
  }
}

Status OssClient::DeleteObject(const std::string& bucket, const std::string& key) {
  OssCall call;
  call.method = "DELETE";
  call.bucket = bucket;
  call.key = key;
  return SendOk(call).status();
}

Result<OssHttpResponse> OssClient::HeadObject(const std::string& bucket, const std::string& key) {
  OssCall call;
  call.method = "HEAD";
  call.bucket = bucket;
  call.key = key;
  return SendOk(call);
}

Status OssClient::UploadFile(const std::string& path, const std::string& bucket, const std::string& key,
                             const std::string& checkpoint, const OssProgress& progress, uint64_t part_bytes,
                             bool staging) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return NotFound("", "cannot read " + path + ": " + std::strerror(errno));
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size > ObjectStore::kMaxObjectBytes) {
    return Status(Code::kInvalidArgument, "EntityTooLarge",
                  path + " holds " + std::to_string(size) + " bytes, more than the maximum object size of " +
                      std::to_string(ObjectStore::kMaxObjectBytes) + " bytes");
  }
  // At most kMaxPartNumber parts: larger files get larger parts (whole MiB).
  const uint64_t min_part = (size + ObjectStore::kMaxPartNumber - 1) / ObjectStore::kMaxPartNumber;
  if (part_bytes < min_part) part_bytes = (min_part + (1 << 20) - 1) / (1 << 20) * (1 << 20);
  if (size > part_bytes) return Multipart(path, bucket, key, checkpoint, progress, part_bytes, staging);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return NotFound("", "cannot open " + path + ": " + std::strerror(errno));
  OssCall call;
  call.method = "PUT";
  call.bucket = bucket;
  call.key = key;
  call.body_fd = fd.get();
  call.length = size;
  call.headers["content-type"] = "application/octet-stream";
  if (staging) call.headers["x-ferry-staging"] = "1";
  RETURN_IF_ERROR(SendOk(call).status());
  if (progress) progress(size, size);
  return Status::Ok();
}

Status OssClient::Multipart(const std::string& path, const std::string& bucket, const std::string& key,
                            const std::string& checkpoint, const OssProgress& progress, uint64_t part_bytes,
                            bool staging) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return NotFound("", "cannot open " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Internal("stat " + path + ": " + std::strerror(errno));
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  const int64_t mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;

  // The checkpoint: {"v":1,"bucket","key","size","mtime_ns","part_bytes","upload_id","parts":{"N":"etag"}}.
  nlohmann::json state;
  if (!checkpoint.empty()) {
    Result<std::string> text = ReadFileToString(checkpoint);
    if (text.ok()) {
      state = nlohmann::json::parse(*text, nullptr, false);
      const bool same = state.is_object() && state.value("v", 0) == 1 && state.value("bucket", "") == bucket &&
                        state.value("key", "") == key && state.value("size", uint64_t{0}) == size &&
                        state.value("mtime_ns", int64_t{0}) == mtime_ns &&
                        state.value("part_bytes", uint64_t{0}) == part_bytes &&
                        state.contains("parts") && state["parts"].is_object();
      if (!same) state = nlohmann::json();
    }
  }
  auto save = [&]() -> Status {
    if (checkpoint.empty()) return Status::Ok();
    return WriteFileAtomic(checkpoint, state.dump() + "\n", 0600);
  };
  auto initiate = [&]() -> Status {
    OssCall call;
    call.method = "POST";
    call.bucket = bucket;
    call.key = key;
    call.query["uploads"] = "";
    call.headers["content-type"] = "application/octet-stream";
    ASSIGN_OR_RETURN(OssHttpResponse response, SendOk(call));
    const std::string upload_id = First(response.body, "UploadId");
    if (upload_id.empty()) return Internal("InitiateMultipartUpload answered no UploadId");
    state = {{"v", 1},          {"bucket", bucket},         {"key", key},         {"size", size},
             {"mtime_ns", mtime_ns}, {"part_bytes", part_bytes}, {"upload_id", upload_id},
             {"parts", nlohmann::json::object()}};
    return save();
  };
  if (state.is_null()) RETURN_IF_ERROR(initiate());

  const uint64_t parts = (size + part_bytes - 1) / part_bytes;
  auto length_of = [&](uint64_t n) { return std::min(part_bytes, size - (n - 1) * part_bytes); };
  // The bytes that move: parts without a data extent never do; a part
  // whose data extents hold only zeros drops out when it is read.
  std::mutex mu;  // guards state (and the checkpoint), no_data, to_send, done
  std::vector<uint8_t> no_data(parts + 1, 0);
  uint64_t to_send = 0;
  for (uint64_t n = 1; n <= parts; ++n) {
    no_data[n] = !HasDataExtent(fd.get(), (n - 1) * part_bytes, length_of(n));
    if (!no_data[n]) to_send += length_of(n);
  }
  for (int attempt = 0;; ++attempt) {
    uint64_t done = 0;
    std::vector<uint64_t> pending;
    for (uint64_t n = 1; n <= parts; ++n) {
      if (!state["parts"].contains(std::to_string(n))) {
        pending.push_back(n);
      } else if (!no_data[n]) {
        done += length_of(n);
      }
    }
    const std::string upload_id = state["upload_id"].get<std::string>();
    // kUploadThreads parts at a time, each on a connection of its own; the
    // checkpoint and the progress follow each acknowledged part.
    const Status failed =
        ParallelFor(pending.size(), kUploadThreads, "upload " + path, [&](size_t i) -> Status {
          const uint64_t n = pending[i];
          const uint64_t offset = (n - 1) * part_bytes;
          const uint64_t length = length_of(n);
          OssCall call;
          call.method = "PUT";
          call.bucket = bucket;
          call.key = key;
          call.query = {{"partNumber", std::to_string(n)}, {"uploadId", upload_id}};
          bool zero = false;
          {
            std::lock_guard<std::mutex> lock(mu);
            zero = no_data[n] != 0;
          }
          if (!zero) {
            std::vector<uint8_t> scratch;
            ASSIGN_OR_RETURN(zero, RangeIsAllZero(fd.get(), offset, length, scratch, path));
            if (zero) {
              std::lock_guard<std::mutex> lock(mu);
              no_data[n] = 1;
              to_send -= length;
            }
          }
          if (zero) {
            call.headers[kZeroPartHeader] = std::to_string(length);
          } else {
            call.body_fd = fd.get();
            call.body_offset = offset;
            call.length = length;
          }
          Result<OssHttpResponse> response = SendOk(call);
          // An endpoint without the extension stored an empty part: send the
          // zeros after all.
          if (zero && response.ok() &&
              NormalizedEtag(response->Header("etag")) != ToUpperHex(Md5OfZeros(length))) {
            call.headers.erase(kZeroPartHeader);
            call.body_fd = fd.get();
            call.body_offset = offset;
            call.length = length;
            {
              std::lock_guard<std::mutex> lock(mu);
              no_data[n] = 0;
              to_send += length;
            }
            response = SendOk(call);
          }
          RETURN_IF_ERROR(response.status());
          const std::string etag = response->Header("etag");
          if (etag.empty()) return Internal("UploadPart " + std::to_string(n) + " answered no ETag");
          std::lock_guard<std::mutex> lock(mu);
          state["parts"][std::to_string(n)] = etag;
          RETURN_IF_ERROR(save());
          if (!no_data[n]) done += length;
          if (progress) progress(done, to_send);
          return Status::Ok();
        });
    // An upload the server no longer knows (expired, aborted): once more
    // from the start.
    if (!failed.ok()) {
      if (failed.reason() == "NoSuchUpload" && attempt == 0) {
        RETURN_IF_ERROR(initiate());
        continue;
      }
      // Over the stored-bytes quota a rerun cannot succeed, and the parts
      // kept for one would count against it: give them back.
      if (failed.message().find("QuotaExceed") != std::string::npos) {
        OssCall abort;
        abort.method = "DELETE";
        abort.bucket = bucket;
        abort.key = key;
        abort.query["uploadId"] = upload_id;
        (void)SendOk(abort);
        if (!checkpoint.empty()) ::unlink(checkpoint.c_str());
      }
      return failed;
    }
    break;
  }
  std::string xml = "<CompleteMultipartUpload>";
  for (uint64_t n = 1; n <= parts; ++n) {
    xml += "<Part><PartNumber>" + std::to_string(n) + "</PartNumber><ETag>" +
           state["parts"][std::to_string(n)].get<std::string>() + "</ETag></Part>";
  }
  xml += "</CompleteMultipartUpload>";
  OssCall call;
  call.method = "POST";
  call.bucket = bucket;
  call.key = key;
  call.query["uploadId"] = state["upload_id"].get<std::string>();
  call.headers["content-type"] = "application/xml";
  if (staging) call.headers["x-ferry-staging"] = "1";
  call.body = std::move(xml);
  RETURN_IF_ERROR(SendOk(call).status());
  if (!checkpoint.empty()) ::unlink(checkpoint.c_str());
  if (progress) progress(to_send, to_send);
  return Status::Ok();
}

Status OssClient::DownloadFile(const std::string& bucket, const std::string& key, const std::string& path,
                               const std::string& checkpoint, const OssProgress& progress, uint64_t part_bytes) {
  ASSIGN_OR_RETURN(OssHttpResponse head, HeadObject(bucket, key));
  const uint64_t size = std::strtoull(head.Header("content-length").c_str(), nullptr, 10);
  const std::string etag = head.Header("etag");
  const std::string partial = path + ".part";
  uint64_t done = 0;
  if (!checkpoint.empty()) {
    Result<std::string> text = ReadFileToString(checkpoint);
    if (text.ok()) {
      nlohmann::json state = nlohmann::json::parse(*text, nullptr, false);
      if (state.is_object() && state.value("etag", "") == etag && state.value("size", uint64_t{0}) == size &&
          std::filesystem::exists(partial)) {
        done = std::min(size, state.value("done", uint64_t{0}));
      }
    }
  }
  UniqueFd fd(::open(partial.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (done == 0 ? O_TRUNC : 0), 0644));
  if (!fd.valid()) return Internal("cannot write " + partial + ": " + std::strerror(errno));
  while (done < size) {
    const uint64_t length = std::min(part_bytes, size - done);
    OssCall call;
    call.bucket = bucket;
    call.key = key;
    call.headers["range"] = "bytes=" + std::to_string(done) + "-" + std::to_string(done + length - 1);
    call.sink_fd = fd.get();
    call.sink_offset = done;
    ASSIGN_OR_RETURN(OssHttpResponse response, SendOk(call));
    if (response.Header("etag") != etag) {
      return FailedPrecondition("", "oss://" + bucket + "/" + key + " changed during the download (ETag " + etag +
                                        " became " + response.Header("etag") + "); start it again");
    }
    if (response.status != 206 && !(response.status == 200 && done == 0 && length == size)) {
      return Internal("a ranged GET answered HTTP " + std::to_string(response.status));
    }
    done += length;
    if (!checkpoint.empty()) {
      nlohmann::json state = {{"etag", etag}, {"size", size}, {"done", done}};
      RETURN_IF_ERROR(WriteFileAtomic(checkpoint, state.dump() + "\n", 0600));
    }
    if (progress) progress(done, size);
  }
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0 || ::fsync(fd.get()) != 0) {
    return Internal("writing " + partial + ": " + std::strerror(errno));
  }
  // The whole object's CRC-64, when the server gives one.
  if (const std::string& crc_text = head.Header("x-oss-hash-crc64ecma"); !crc_text.empty()) {
    UniqueFd in(::open(partial.c_str(), O_RDONLY | O_CLOEXEC));
    std::vector<uint8_t> piece(kPieceBytes);
    uint64_t crc = 0;
    for (uint64_t off = 0; off < size;) {
      const uint64_t n = std::min<uint64_t>(piece.size(), size - off);
      RETURN_IF_ERROR(PreadFull(in.get(), piece.data(), n, off, partial));
      crc = Crc64Update(crc, std::span<const uint8_t>(piece.data(), n));
      off += n;
    }
    if (std::to_string(crc) != crc_text) {
      ::unlink(partial.c_str());
      if (!checkpoint.empty()) ::unlink(checkpoint.c_str());
      return Internal("the download of oss://" + bucket + "/" + key + " has CRC-64 " + std::to_string(crc) +
                      " but the server says " + crc_text + "; it was removed, download it again");
    }
  }
  if (::rename(partial.c_str(), path.c_str()) != 0) {
    return Internal("renaming " + partial + " to " + path + ": " + std::strerror(errno));
  }
  if (!checkpoint.empty()) ::unlink(checkpoint.c_str());
  if (progress && size == 0) progress(0, 0);
  return Status::Ok();
}

Result<std::string> OssClient::PresignGet(const std::string& bucket, const std::string& key,
                                          int64_t expires_seconds) {
  if (expires_seconds < 1 || (config_.v4 && expires_seconds > kOssMaxPresignedV4Expires)) {
    return InvalidArgument("", "--expires must be 1-" + std::to_string(kOssMaxPresignedV4Expires) +
                                   " seconds, not " + std::to_string(expires_seconds));
  }
  const UnixSeconds now = clock_.Now();
  OssCall call;
  call.bucket = bucket;
  call.key = key;
  if (!config_.v4) {
    const std::string expires = std::to_string(now + expires_seconds);
    const std::string signature = OssV1Signature(
        config_.access_key_secret,
        OssV1StringToSign("GET", {}, expires, OssV1CanonicalResource(bucket, key, {})));
    call.query = {{"OSSAccessKeyId", config_.access_key_id}, {"Expires", expires}, {"Signature", signature}};
    return config_.endpoint + Target(call);
  }
  const std::string timestamp = IsoBasic(now);
  const OssV4Credential scope{config_.access_key_id, timestamp.substr(0, 8), config_.region};
  call.query = {{"x-oss-signature-version", std::string(kOssV4Algorithm)},
                {"x-oss-credential",
                 config_.access_key_id + "/" + scope.day + "/" + scope.region + "/oss/aliyun_v4_request"},
                {"x-oss-date", timestamp},
                {"x-oss-expires", std::to_string(expires_seconds)}};
  const std::string canonical = OssV4CanonicalRequest("GET", OssV4CanonicalUri(bucket, key),
                                                      OssV4CanonicalQuery(call.query), {}, {}, kOssUnsignedPayload);
  call.query["x-oss-signature"] =
      OssV4Signature(config_.access_key_secret, scope, OssV4StringToSign(timestamp, scope, canonical));
  return config_.endpoint + Target(call);
}

}  // namespace ferry
