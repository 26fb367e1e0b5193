#include "store/s3_client.h"

#include <curl/curl.h>
#include <expat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>

#include "common/hash.h"
#include "common/http_url.h"

namespace ferry {
namespace {

// The SHA-256 of no bytes: the payload hash of a request without a body.
constexpr std::string_view kEmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
// An error or listing answer larger than this is not one a server we can
// talk to sends; it is cut off (kDataLoss) rather than held.
constexpr uint64_t kMaxXmlAnswer = 8u << 20;

bool IsUnreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.' || c == '~';
}

// AWS's URI encoding of a query value: unreserved bytes as they are,
// everything else %XX in upper case.
std::string QueryEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    if (IsUnreserved(c)) {
      out += c;
    } else {
      const auto b = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 15];
    }
  }
  return out;
}

Result<std::string> PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    int v = 0;
    for (size_t j = 1; j <= 2; ++j) {
      const char c = i + j < s.size() ? s[i + j] : '\0';
      const int d = (c >= '0' && c <= '9')   ? c - '0'
                    : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                    : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                             : -1;
      if (d < 0) return InvalidArgument("", "bad percent escape in '" + std::string(s) + "'");
      v = v * 16 + d;
    }
    out += static_cast<char>(v);
    i += 2;
  }
  return out;
}

bool ValidKeyChars(std::string_view key) {
  return std::all_of(key.begin(), key.end(), [](char c) { return IsUnreserved(c) || c == '/'; }) &&
         key.find('~') == std::string_view::npos;
}

// S3's bucket naming rules (the DNS-compatible ones every server accepts).
bool ValidBucketName(std::string_view b) {
  if (b.size() < 3 || b.size() > 63) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(b.front()) || !alnum(b.back())) return false;
  return std::all_of(b.begin(), b.end(), [&](char c) { return alnum(c) || c == '-' || c == '.'; });
}

// Texts of XML elements by their path from the root ("Error/Code"), in
// document order. Expat, no entities from outside, the input bounded by the
// caller.
class XmlTexts {
 public:
  using Fn = std::function<void(const std::string& path, const std::string& text)>;
  static Status Parse(std::span<const uint8_t> xml, const Fn& fn) {
    XML_Parser p = XML_ParserCreate("UTF-8");
    if (p == nullptr) return Internal("S3: cannot create an XML parser");
    XmlTexts state{fn};
    XML_SetUserData(p, &state);
    XML_SetElementHandler(p, &XmlTexts::Start, &XmlTexts::End);
    XML_SetCharacterDataHandler(p, &XmlTexts::Chars);
    const XML_Status rc =
        XML_Parse(p, reinterpret_cast<const char*>(xml.data()), static_cast<int>(xml.size()), XML_TRUE);
    std::string error = rc == XML_STATUS_OK ? "" : XML_ErrorString(XML_GetErrorCode(p));
    XML_ParserFree(p);
    if (!error.empty()) return DataLoss("S3: an answer is not XML: " + error);
    return Status::Ok();
  }

 private:
  explicit XmlTexts(const Fn& fn) : fn_(fn) {}
  static std::string_view LocalName(const XML_Char* name) {
    std::string_view n(name);
    const size_t colon = n.rfind(':');
    return colon == std::string_view::npos ? n : n.substr(colon + 1);
  }
  static void Start(void* data, const XML_Char* name, const XML_Char**) {
    auto* s = static_cast<XmlTexts*>(data);
    s->stack_.push_back(s->path_.size());
    if (!s->path_.empty()) s->path_ += '/';
    s->path_ += LocalName(name);
    s->text_.clear();
  }
  static void End(void* data, const XML_Char*) {
    auto* s = static_cast<XmlTexts*>(data);
    s->fn_(s->path_, s->text_);
    s->text_.clear();
    s->path_.resize(s->stack_.back());
    s->stack_.pop_back();
  }
  static void Chars(void* data, const XML_Char* text, int len) {
    static_cast<XmlTexts*>(data)->text_.append(text, static_cast<size_t>(len));
  }

  const Fn& fn_;
  std::string path_;
  std::vector<size_t> stack_;
  std::string text_;
};

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string Trim(std::string_view s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return "";
  const size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

}  // namespace

// ------------------------------------------------------------- location

int64_t ParseS3Time(std::string_view text) {
  struct tm tm {};
  const std::string s(text.substr(0, 19));
  const char* end = ::strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (end == nullptr || *end != '\0') return 0;
  return static_cast<int64_t>(::timegm(&tm));
}

std::string S3Location::ToString() const {
  std::string s = "s3://" + bucket;
  if (!prefix.empty()) s += "/" + prefix.substr(0, prefix.size() - 1);
  return s + "?endpoint=" + endpoint + "&region=" + region;
}

Result<S3Location> ParseS3Uri(std::string_view uri) {
  const std::string what = "store '" + std::string(uri) + "'";
  constexpr std::string_view kScheme = "s3://";
  if (!uri.starts_with(kScheme)) return InvalidArgument("", what + ": not an s3:// URI");
  std::string_view rest = uri.substr(kScheme.size());
  std::string_view query;
  if (const size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  S3Location loc;
  const size_t slash = rest.find('/');
  loc.bucket = std::string(rest.substr(0, slash));
  if (!ValidBucketName(loc.bucket)) {
    return InvalidArgument("", what + ": '" + loc.bucket +
                                   "' is not a bucket name (3-63 of a-z, 0-9, '-', '.', starting and ending "
                                   "with a letter or digit)");
  }
  if (slash != std::string_view::npos) {
    std::string prefix(rest.substr(slash + 1));
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
    if (!prefix.empty()) {
      if (!ValidKeyChars(prefix) || prefix.front() == '/' || prefix.find("//") != std::string::npos) {
        return InvalidArgument("", what + ": the key prefix '" + prefix +
                                       "' may hold only A-Z, a-z, 0-9, '.', '_', "
                                       "'-' and single '/'");
      }
      loc.prefix = prefix + "/";
    }
  }
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    const std::string name(pair.substr(0, eq));
    ASSIGN_OR_RETURN(std::string value,
                     PercentDecode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1)));
    if (name == "endpoint") {
      loc.endpoint = value;
    } else if (name == "region") {
      if (value.empty() || !ValidKeyChars(value) || value.find('/') != std::string::npos) {
        return InvalidArgument("", what + ": region '" + value + "' is not a region name");
      }
      loc.region = value;
    } else {
      return InvalidArgument("", what + ": unknown parameter '" + name + "' (known: endpoint, region)");
    }
  }
  if (loc.endpoint.empty()) {
    return InvalidArgument("", what + ": no endpoint (s3://BUCKET?endpoint=http://HOST:PORT)");
  }
  while (loc.endpoint.size() > 1 && loc.endpoint.back() == '/') loc.endpoint.pop_back();
  std::string_view ep = loc.endpoint;
  if (ep.starts_with("https://")) {
    ep.remove_prefix(8);
  } else if (ep.starts_with("http://")) {
    ep.remove_prefix(7);
  } else {
    return InvalidArgument("", what + ": endpoint '" + loc.endpoint + "' is not http:// or https://");
  }
  if (Result<HttpBaseUrl> base = ParseHttpBaseUrl("http://" + std::string(ep)); !base.ok()) {
    return InvalidArgument("", what + ": endpoint '" + loc.endpoint + "' is not http(s)://HOST[:PORT]");
  }
  return loc;
}

Result<S3Credentials> S3CredentialsFromEnvironment() {
  const char* id = std::getenv("AWS_ACCESS_KEY_ID");
  const char* secret = std::getenv("AWS_SECRET_ACCESS_KEY");
  if (id != nullptr && *id != '\0' && secret != nullptr && *secret != '\0') return S3Credentials{id, secret};
  std::string file;
  if (const char* f = std::getenv("AWS_SHARED_CREDENTIALS_FILE"); f != nullptr && *f != '\0') {
    file = f;
  } else if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    file = std::string(home) + "/.aws/credentials";
  }
  const char* profile_env = std::getenv("AWS_PROFILE");
  const std::string profile = profile_env != nullptr && *profile_env != '\0' ? profile_env : "default";
  const std::string nowhere =
      "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or put them in " +
      (file.empty() ? std::string("~/.aws/credentials") : file) + " under [" + profile + "]";
  if (file.empty()) return FailedPrecondition("", nowhere);
  std::ifstream in(file);
  if (!in) return FailedPrecondition("", nowhere);
  S3Credentials c;
  std::string line;
  bool in_profile = false;
  size_t lines = 0;
  while (std::getline(in, line) && ++lines < 10000) {
    const std::string t = Trim(line);
    if (t.empty() || t[0] == '#' || t[0] == ';') continue;
    if (t.front() == '[' && t.back() == ']') {
      in_profile = Trim(std::string_view(t).substr(1, t.size() - 2)) == profile;
      continue;
    }
    if (!in_profile) continue;
    const size_t eq = t.find('=');
    if (eq == std::string::npos) continue;
    const std::string name = Trim(std::string_view(t).substr(0, eq));
    const std::string value = Trim(std::string_view(t).substr(eq + 1));
    if (name == "aws_access_key_id") c.access_key_id = value;
    if (name == "aws_secret_access_key") c.secret_access_key = value;
  }
  if (c.access_key_id.empty() || c.secret_access_key.empty()) return FailedPrecondition("", nowhere);
  return c;
}

// ------------------------------------------------------------- requests

struct S3Client::Request : S3Request {
  Request() = default;
  Request(std::string m, std::string k, std::string q, std::span<const uint8_t> b) {
    method = std::move(m);
    key = std::move(k);
    query = std::move(q);
    body = b;
  }
  std::optional<std::pair<uint64_t, uint64_t>> range;  // offset, length
};

struct S3Client::Response : S3Answer {};

class S3Client::HandlePool {
 public:
  ~HandlePool() {
    for (CURL* h : idle_) curl_easy_cleanup(h);
  }
  CURL* Take() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!idle_.empty()) {
        CURL* h = idle_.back();
        idle_.pop_back();
        curl_easy_reset(h);  // keeps the handle's open connections
        return h;
      }
    }
    return curl_easy_init();
  }
  void Give(CURL* h) {
    std::lock_guard<std::mutex> lock(mu_);
    idle_.push_back(h);
  }

 private:
  std::mutex mu_;
  std::vector<CURL*> idle_;  // guarded by mu_
};

S3Client::S3Client(S3Location location, S3Credentials credentials, S3Options options)
    : location_(std::move(location)),
      credentials_(std::move(credentials)),
      options_(options),
      handles_(std::make_unique<HandlePool>()) {}

S3Client::~S3Client() = default;

uint64_t S3Client::retries() const {
  std::lock_guard<std::mutex> lock(mu_);
  return retries_;
}

std::string S3Client::EncodeQuery(std::string_view value) { return QueryEncode(value); }

Status S3Client::ParseXml(std::span<const uint8_t> xml,
                          const std::function<void(const std::string& path, const std::string& text)>& fn) {
  return XmlTexts::Parse(xml, fn);
}

std::string S3Client::UrlFor(std::string_view key, const std::string& query) const {
  std::string url = location_.endpoint + "/" + location_.bucket;
  if (!key.empty()) {
    // The path as S3 signs it: every byte but the unreserved ones and '/'
    // as %XX (curl signs the path as given).
    static constexpr char kHex[] = "0123456789ABCDEF";
    url += '/';
    for (char c : location_.prefix + std::string(key)) {
      if (IsUnreserved(c) || c == '/') {
        url += c;
      } else {
        const auto b = static_cast<unsigned char>(c);
        url += '%';
        url += kHex[b >> 4];
        url += kHex[b & 15];
      }
    }
  }
  if (!query.empty()) url += "?" + query;
  return url;
}

namespace {

struct Transfer {
  std::span<const uint8_t> upload;
  size_t uploaded = 0;
  int upload_fd = -1;  // the body from this file instead
  uint64_t upload_offset = 0;
  uint64_t upload_length = 0;
  bool read_failed = false;
  S3Answer* answer = nullptr;
  const std::function<bool(uint64_t, std::span<const uint8_t>)>* sink = nullptr;
  long status = 0;  // of the last status line seen
  uint64_t max_bytes = 0;
  bool too_large = false;
  bool write_failed = false;
};

size_t ReadBody(char* buf, size_t size, size_t n, void* data) {
  auto* t = static_cast<Transfer*>(data);
  if (t->upload_fd >= 0) {
    const uint64_t want = std::min<uint64_t>(size * n, t->upload_length - t->uploaded);
    if (want == 0) return 0;
    const ssize_t got = ::pread(t->upload_fd, buf, want, static_cast<off_t>(t->upload_offset + t->uploaded));
    if (got <= 0) {
      t->read_failed = true;
      return CURL_READFUNC_ABORT;
    }
    t->uploaded += static_cast<size_t>(got);
    return static_cast<size_t>(got);
  }
  const size_t want = std::min(size * n, t->upload.size() - t->uploaded);
  std::copy_n(t->upload.data() + t->uploaded, want, reinterpret_cast<uint8_t*>(buf));
  t->uploaded += want;
  return want;
}

size_t WriteBody(char* buf, size_t size, size_t n, void* data) {
  auto* t = static_cast<Transfer*>(data);
  const size_t len = size * n;
  S3Answer& a = *t->answer;
  const bool sinking = t->sink != nullptr && *t->sink;
  if (sinking && t->status >= 200 && t->status < 300) {
    if (a.sunk + len > t->max_bytes) {
      t->too_large = true;
      return 0;
    }
    if (!(*t->sink)(a.sunk, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(buf), len))) {
      t->write_failed = true;
      return 0;
    }
    a.sunk += len;
    return len;
  }
  if (a.body.size() + len > (sinking ? kMaxXmlAnswer : t->max_bytes)) {
    t->too_large = true;
    return 0;  // curl stops the transfer (CURLE_WRITE_ERROR)
  }
  a.body.insert(a.body.end(), reinterpret_cast<uint8_t*>(buf), reinterpret_cast<uint8_t*>(buf) + len);
  return len;
}

size_t ReadHeader(char* buf, size_t size, size_t n, void* data) {
  auto* t = static_cast<Transfer*>(data);
  const std::string_view line(buf, size * n);
  if (line.starts_with("HTTP/")) {
    // A new answer (after a 100 Continue, say): its status decides where
    // its body goes.
    const size_t sp = line.find(' ');
    t->status = sp == std::string_view::npos ? 0 : std::atol(std::string(line.substr(sp + 1, 3)).c_str());
    return size * n;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return size * n;
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](char c) { return static_cast<char>(std::tolower(c)); });
  const std::string value = Trim(line.substr(colon + 1));
  if (name == "etag") t->answer->etag = value;
  if (name == "last-modified") t->answer->last_modified = value;
  if (name == "x-amz-meta-ferry") t->answer->ferry_meta = value;
  return size * n;
}

bool RetryableCurlError(CURLcode rc) {
  switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
      return true;
    default:
      return false;
  }
}

bool RetryableStatus(long status) {
  return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

}  // namespace

Result<S3Client::Response> S3Client::SendOnce(const Request& req) {
  CURL* h = handles_->Take();
  if (h == nullptr) return Internal("S3: curl_easy_init failed");
  Response resp;
  Transfer t;
  t.upload = req.body;
  t.upload_fd = req.body_fd;
  t.upload_offset = req.body_offset;
  t.upload_length = req.body_length;
  t.answer = &resp;
  t.sink = &req.sink;
  t.max_bytes = req.max_bytes;

  const std::string url = UrlFor(req.key, req.query);
  const std::string sigv4 = "aws:amz:" + location_.region + ":s3";
  const std::string payload_hash = (req.body_fd >= 0 || req.unsigned_payload) && req.body_sha256 == nullptr
                                       ? "UNSIGNED-PAYLOAD"
                                   : req.body_sha256 != nullptr ? ToHex(*req.body_sha256)
                                   : req.body.empty()           ? std::string(kEmptySha256)
                                                                : ToHex(Sha256::Of(req.body));
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, ("x-amz-content-sha256: " + payload_hash).c_str());
  for (const auto& [name, value] : req.headers) {
    headers = curl_slist_append(headers, (name + ": " + value).c_str());
  }
  std::string range;
  if (req.range) {
    range = std::to_string(req.range->first) + "-" + std::to_string(req.range->first + req.range->second - 1);
  }

  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4.c_str());
  curl_easy_setopt(h, CURLOPT_USERNAME, credentials_.access_key_id.c_str());
  curl_easy_setopt(h, CURLOPT_PASSWORD, credentials_.secret_access_key.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options_.stall_timeout.count()));
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &WriteBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &ReadHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  if (!range.empty()) curl_easy_setopt(h, CURLOPT_RANGE, range.c_str());
  if (req.method == "PUT") {
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, &ReadBody);
    curl_easy_setopt(h, CURLOPT_READDATA, &t);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
                     static_cast<curl_off_t>(req.body_fd >= 0 ? req.body_length : req.body.size()));
    // The body goes at once, without waiting for a 100-continue. (Removing
    // the Expect header instead breaks curl's signature: it signs the
    // header it does not send.)
    curl_easy_setopt(h, CURLOPT_EXPECT_100_TIMEOUT_MS, 0L);
  } else if (req.method == "POST") {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS,
                     req.body.empty() ? "" : reinterpret_cast<const char*>(req.body.data()));
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
  } else if (req.method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (req.method == "DELETE") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
  }

  const CURLcode rc = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp.status);
  curl_off_t length = -1;
  curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
  if (length >= 0) resp.content_length = static_cast<uint64_t>(length);
  curl_slist_free_all(headers);
  const bool sent_body = req.method == "PUT" || req.method == "POST";
  if (sent_body && (rc != CURLE_OK || resp.status < 200 || resp.status >= 300)) {
    // A gateway that refused a request before reading its body (Ceph 16
    // answers a bad key's PUT at once, then keeps the connection) would read
    // what is left of the body as the next request: this handle's
    // connection goes with it.
    curl_easy_cleanup(h);
  } else {
    handles_->Give(h);
  }

  if (t.read_failed) return Internal("S3: " + req.method + " " + url + ": reading the body's file failed");
  if (t.write_failed) return Internal("S3: " + req.method + " " + url + ": writing the answer's file failed");
  if (t.too_large) {
    return DataLoss("S3: " + req.method + " " + url + " answered more than " + std::to_string(req.max_bytes) +
                    " bytes");
  }
  if (rc != CURLE_OK) {
    Status st = Unavailable("S3: " + req.method + " " + url + ": " + curl_easy_strerror(rc));
    return RetryableCurlError(rc) ? st : Status(Code::kInternal, "", st.message());
  }
  if (!resp.ok() && !resp.body.empty()) {
    // An error answer's XML names the S3 error; one that does not parse is
    // reported by its status alone.
    (void)XmlTexts::Parse(resp.body, [&](const std::string& path, const std::string& text) {
      if (path == "Error/Code") resp.error_code = text;
      if (path == "Error/Message") resp.error_message = text;
    });
  }
  return resp;
}

Result<S3Answer> S3Client::Call(const S3Request& request) {
  Request req;
  static_cast<S3Request&>(req) = request;
  ASSIGN_OR_RETURN(Response resp, Send(req));
  return static_cast<S3Answer&&>(std::move(resp));
}

Result<S3Client::Response> S3Client::Send(const Request& req) {
  thread_local std::minstd_rand jitter(std::random_device{}());
  std::chrono::milliseconds backoff = options_.first_backoff;
  for (int attempt = 1;; ++attempt) {
    Result<Response> resp = SendOnce(req);
    const bool retry = resp.ok() ? RetryableStatus(resp->status) : resp.status().code() == Code::kUnavailable;
    if (!retry) return resp;
    if (attempt >= options_.max_attempts) {
      if (!resp.ok()) return resp.status().WithContext("after " + std::to_string(attempt) + " attempts");
      return Unavailable("S3: " + req.method + " " + UrlFor(req.key, req.query) + ": HTTP " +
                         std::to_string(resp->status) +
                         (resp->error_code.empty() ? "" : " " + resp->error_code) + " after " +
                         std::to_string(attempt) + " attempts");
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      retries_++;
    }
    const auto half = backoff.count() / 2;
    std::this_thread::sleep_for(
        std::chrono::milliseconds(half + static_cast<int64_t>(jitter() % (half + 1))) +
        std::chrono::milliseconds(half));
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  }
}

namespace {

// The Status of an answer that is not 2xx.
Status ErrorOf(const std::string& what, long status, const std::string& code, const std::string& message) {
  std::string text = "S3: " + what + ": HTTP " + std::to_string(status);
  if (!code.empty()) text += " " + code;
  if (!message.empty()) text += " (" + message + ")";
  if (status == 404 && (code == "NoSuchKey" || code.empty())) return NotFound(code, text);
  if (status == 404 && code == "NoSuchBucket") return FailedPrecondition(code, text);
  if (status == 403 || status == 401) return PermissionDenied(code, text);
  if (code == "XAmzContentSHA256Mismatch" || code == "BadDigest") return DataLoss(text);
  return Status(Code::kInternal, code, text);
}

}  // namespace

Status S3Answer::Error(const std::string& what) const {
  return ErrorOf(what, status, error_code, error_message);
}

Result<std::unique_ptr<S3Client>> S3Client::Open(S3Location location, S3Credentials credentials,
                                                 S3Options options) {
  InitCurlOnce();
  std::unique_ptr<S3Client> client(new S3Client(std::move(location), std::move(credentials), options));
  Request req;
  req.method = "HEAD";
  const std::string where = client->location_.ToString();
  Result<Response> resp = client->Send(req);
  if (!resp.ok()) {
    return Unavailable("the object store " + where + " does not answer: " + resp.status().message());
  }
  if (resp->status == 404) {
    return FailedPrecondition("NoSuchBucket", "the object store " + where + " has no bucket '" +
                                                  client->location_.bucket + "' (create it first)");
  }
  if (resp->status == 403 || resp->status == 401) {
    return PermissionDenied("InvalidAccessKeyId",
                            "the object store " + where + " refused the credentials of access key '" +
                                client->credentials_.access_key_id + "'" +
                                (resp->error_code.empty() ? "" : " (" + resp->error_code + ")"));
  }
  if (!resp->ok())
    return ErrorOf("HEAD bucket " + where, resp->status, resp->error_code, resp->error_message);
  return client;
}

Status S3Client::CreateBucket(const S3Location& location, const S3Credentials& credentials) {
  InitCurlOnce();
  S3Client client(location, credentials, S3Options{});
  Request req{"PUT", "", "", {}};
  ASSIGN_OR_RETURN(Response resp, client.Send(req));
  if (resp.ok() || resp.error_code == "BucketAlreadyOwnedByYou") return Status::Ok();
  return ErrorOf("PUT bucket " + location.bucket, resp.status, resp.error_code, resp.error_message);
}

namespace {
Status CheckKey(std::string_view key) {
  if (key.empty() || !ValidKeyChars(key)) {
    return InvalidArgument(
        "", "S3: key '" + std::string(key) + "' holds a character other than A-Z a-z 0-9 / . _ -");
  }
  return Status::Ok();
}
}  // namespace

Status S3Client::Put(std::string_view key, std::span<const uint8_t> body, const Digest256* sha256) {
  RETURN_IF_ERROR(CheckKey(key));
  Request req{"PUT", std::string(key), "", body};
  req.body_sha256 = sha256;
  ASSIGN_OR_RETURN(Response resp, Send(req));
  if (!resp.ok()) return ErrorOf("PUT " + std::string(key), resp.status, resp.error_code, resp.error_message);
  return Status::Ok();
}

Result<std::vector<uint8_t>> S3Client::Get(std::string_view key, uint64_t max_bytes) {
  RETURN_IF_ERROR(CheckKey(key));
  Request req{"GET", std::string(key), "", {}};
  req.max_bytes = std::max(max_bytes, kMaxXmlAnswer);  // room for an error answer
  ASSIGN_OR_RETURN(Response resp, Send(req));
  if (!resp.ok()) return ErrorOf("GET " + std::string(key), resp.status, resp.error_code, resp.error_message);
  if (resp.body.size() > max_bytes) {
    return DataLoss("S3: GET " + std::string(key) + ": " + std::to_string(resp.body.size()) +
                    " bytes, more than the " + std::to_string(max_bytes) + " expected");
  }
  return std::move(resp.body);
}

Result<std::vector<uint8_t>> S3Client::GetRange(std::string_view key, uint64_t offset, uint64_t length) {
  RETURN_IF_ERROR(CheckKey(key));
  if (length == 0) return std::vector<uint8_t>{};
  Request req{"GET", std::string(key), "", {}};
  req.range = std::make_pair(offset, length);
  req.max_bytes = std::max(length, kMaxXmlAnswer);
  ASSIGN_OR_RETURN(Response resp, Send(req));
  if (resp.status == 416) return std::vector<uint8_t>{};  // the range starts past the end
  if (!resp.ok()) return ErrorOf("GET " + std::string(key), resp.status, resp.error_code, resp.error_message);
  if (resp.status != 206) {
    // A server that ignored the range sent the whole object.
    if (offset >= resp.body.size()) return std::vector<uint8_t>{};
    const size_t end = static_cast<size_t>(std::min<uint64_t>(offset + length, resp.body.size()));
    return std::vector<uint8_t>(resp.body.begin() + static_cast<ptrdiff_t>(offset),
                                resp.body.begin() + static_cast<ptrdiff_t>(end));
  }
  if (resp.body.size() > length) {
    return DataLoss("S3: GET " + std::string(key) + " range: " + std::to_string(resp.body.size()) +
                    " bytes for a range of " + std::to_string(length));
  }
  return std::move(resp.body);
}

Result<std::optional<uint64_t>> S3Client::Head(std::string_view key) {
  RETURN_IF_ERROR(CheckKey(key));
  Request req{"HEAD", std::string(key), "", {}};
  ASSIGN_OR_RETURN(Response resp, Send(req));
  if (resp.status == 404) return std::optional<uint64_t>();
  if (!resp.ok())
    return ErrorOf("HEAD " + std::string(key), resp.status, resp.error_code, resp.error_message);
  if (!resp.content_length) return DataLoss("S3: HEAD " + std::string(key) + ": no Content-Length");
  return std::optional<uint64_t>(*resp.content_length);
}

Status S3Client::Delete(std::string_view key) {
  RETURN_IF_ERROR(CheckKey(key));
  Request req{"DELETE", std::string(key), "", {}};
  ASSIGN_OR_RETURN(Response resp, Send(req));
  if (resp.ok() || resp.status == 404) return Status::Ok();
  return ErrorOf("DELETE " + std::string(key), resp.status, resp.error_code, resp.error_message);
}

Status S3Client::List(std::string_view key_prefix, const std::function<void(const S3ObjectInfo&)>& fn) {
  if (!key_prefix.empty()) RETURN_IF_ERROR(CheckKey(key_prefix));
  const std::string full_prefix = location_.prefix + std::string(key_prefix);
  std::string token;
  for (int page = 0; page < 10'000'000; ++page) {
    Request req{"GET", "", "", {}};
    // Sorted by name, as SigV4's canonical query string is.
    if (!token.empty()) req.query += "continuation-token=" + QueryEncode(token) + "&";
    req.query += "list-type=2&max-keys=" + std::to_string(options_.list_page_size);
    if (!full_prefix.empty()) req.query += "&prefix=" + QueryEncode(full_prefix);
    ASSIGN_OR_RETURN(Response resp, Send(req));
    if (!resp.ok()) return ErrorOf("LIST " + full_prefix, resp.status, resp.error_code, resp.error_message);
    bool truncated = false;
    std::string next;
    std::vector<S3ObjectInfo> objects;
    Status bad;
    RETURN_IF_ERROR(XmlTexts::Parse(resp.body, [&](const std::string& path, const std::string& text) {
      if (path == "ListBucketResult/IsTruncated") truncated = text == "true";
      if (path == "ListBucketResult/NextContinuationToken") next = text;
      if (path == "ListBucketResult/Contents/Key") objects.push_back(S3ObjectInfo{text, 0, 0});
      if (path == "ListBucketResult/Contents/LastModified" && !objects.empty()) {
        objects.back().last_modified = ParseS3Time(text);
      }
      if (path == "ListBucketResult/Contents/Size" && !objects.empty()) {
        char* end = nullptr;
        objects.back().size = std::strtoull(text.c_str(), &end, 10);
        if (text.empty() || *end != '\0') bad = DataLoss("S3: LIST: size '" + text + "' is not a number");
      }
    }));
    RETURN_IF_ERROR(bad);
    for (S3ObjectInfo& o : objects) {
      if (!o.key.starts_with(full_prefix)) continue;
      o.key.erase(0, location_.prefix.size());
      fn(o);
    }
    if (!truncated) return Status::Ok();
    if (next.empty() || next == token)
      return DataLoss("S3: LIST " + full_prefix + ": truncated with no next token");
    token = std::move(next);
  }
  return DataLoss("S3: LIST " + full_prefix + ": too many pages");
}

Result<std::string> S3Client::CreateMultipartUpload(std::string_view key) {
  RETURN_IF_ERROR(CheckKey(key));
  Request req{"POST", std::string(key), "uploads=", {}};
  ASSIGN_OR_RETURN(Response resp, Send(req));
  if (!resp.ok())
    return ErrorOf("POST uploads " + std::string(key), resp.status, resp.error_code, resp.error_message);
  std::string upload_id;
  RETURN_IF_ERROR(XmlTexts::Parse(resp.body, [&](const std::string& path, const std::string& text) {
    if (path == "InitiateMultipartUploadResult/UploadId") upload_id = text;
  }));
  if (upload_id.empty())
    return DataLoss("S3: POST uploads " + std::string(key) + ": no UploadId in the answer");
  return upload_id;
}

Result<std::string> S3Client::UploadPart(std::string_view key, const std::string& upload_id, int part_number,
                                         std::span<const uint8_t> body) {
  RETURN_IF_ERROR(CheckKey(key));
  if (part_number < 1 || part_number > 10000) return InvalidArgument("", "S3: part number outside 1-10000");
  Request req{"PUT", std::string(key),
              "partNumber=" + std::to_string(part_number) + "&uploadId=" + QueryEncode(upload_id), body};
  ASSIGN_OR_RETURN(Response resp, Send(req));
  if (!resp.ok())
    return ErrorOf("PUT part " + std::string(key), resp.status, resp.error_code, resp.error_message);
  if (resp.etag.empty()) return DataLoss("S3: PUT part " + std::string(key) + ": no ETag in the answer");
  return resp.etag;
}

Status S3Client::CompleteMultipartUpload(std::string_view key, const std::string& upload_id,
                                         const std::vector<std::string>& part_etags) {
  RETURN_IF_ERROR(CheckKey(key));
  std::string xml = "<CompleteMultipartUpload>";
  for (size_t i = 0; i < part_etags.size(); ++i) {
    std::string etag;
    for (char c : part_etags[i]) {
      if (c == '&')
        etag += "&amp;";
      else if (c == '<')
        etag += "&lt;";
      else if (c == '>')
        etag += "&gt;";
      else
        etag += c;
    }
    xml += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" + etag + "</ETag></Part>";
  }
  xml += "</CompleteMultipartUpload>";
  Request req{"POST", std::string(key), "uploadId=" + QueryEncode(upload_id),
              std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(xml.data()), xml.size())};
  ASSIGN_OR_RETURN(Response resp, Send(req));
  if (!resp.ok())
    return ErrorOf("POST complete " + std::string(key), resp.status, resp.error_code, resp.error_message);
  // S3 may answer 200 and put the error in the body.
  std::string code;
  RETURN_IF_ERROR(XmlTexts::Parse(resp.body, [&](const std::string& path, const std::string& text) {
    if (path == "Error/Code") code = text;
  }));
  if (!code.empty()) return ErrorOf("POST complete " + std::string(key), 200, code, "");
  return Status::Ok();
}

Status S3Client::AbortMultipartUpload(std::string_view key, const std::string& upload_id) {
  RETURN_IF_ERROR(CheckKey(key));
  Request req{"DELETE", std::string(key), "uploadId=" + QueryEncode(upload_id), {}};
  ASSIGN_OR_RETURN(Response resp, Send(req));
  if (resp.ok() || resp.status == 404) return Status::Ok();
  return ErrorOf("DELETE upload " + std::string(key), resp.status, resp.error_code, resp.error_message);
}

}  // namespace ferry
