#include "objects/s3_object_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "common/buffer_pool.h"
#include "common/catch_all.h"
#include "common/crc64.h"
#include "common/hash.h"
#include "common/ids.h"
#include "common/log_safe.h"
#include "common/parallel.h"
#include "common/zero.h"
#include "objects/fs_internal.h"
#include "store/s3_client.h"

namespace ferry {

using fsobj::BucketNotFound;
using fsobj::KeyNotFound;
using fsobj::NormalizeEtag;
using fsobj::UploadNotFound;
using fsobj::UserMetaFrom;
using fsobj::UserMetaJson;

struct S3ObjectStore::Shared {
  Shared(std::shared_ptr<S3Client> client, std::string spool, const Clock& c)
      : s3(std::move(client)), spool_dir(std::move(spool)), clock(c) {}
  std::shared_ptr<S3Client> s3;
  std::string spool_dir;
  const Clock& clock;

  std::shared_ptr<PartChunks> Chunks() const {
    std::lock_guard<std::mutex> lock(chunks_mu);
    return chunks;
  }
  mutable std::mutex chunks_mu;
  std::shared_ptr<PartChunks> chunks;  // guarded by chunks_mu; SetPartChunks
  // The memory of parts kept as chunks, reused (a fresh 4 MiB buffer costs a
  // page fault per 4 KiB it is filled with).
  BufferPool part_buffers{uint64_t{4} << 20, 8};
};

namespace {

// S3 parts of what Ferry uploads; single PUTs up to this size.
constexpr uint64_t kS3PartBytes = uint64_t{16} << 20;
// A parted object's manifest at most (10,000 parts take about 1 MiB).
constexpr uint64_t kMaxManifestBytes = uint64_t{4} << 20;
// Parts sent (or fetched) at once by one writer (or reader).
constexpr unsigned kPartThreads = 4;
// The gateway's longest key (Ceph's rgw_max_obj_name_len default).
constexpr size_t kMaxS3KeyBytes = 1024;
// Metadata longer than this (base64) goes to a sidecar object: the
// gateway's request headers are 16 KiB at most in all.
constexpr size_t kMaxMetaHeaderBytes = 6000;
constexpr uint64_t kMaxRecordBytes = 64 * 1024;
constexpr int kMetaVersion = 1;
constexpr int kMaxListPages = 1'000'000;

std::string BucketRecordKey(const std::string& b) { return "oss/b/" + b; }
std::string AccountIndexPrefix(const std::string& a) { return "oss/a/" + a + "/"; }
std::string ObjectPrefix(const std::string& b) { return "oss/o/" + b + "/"; }
std::string SidecarKey(const std::string& b, const std::string& sha) { return "oss/m/" + b + "/" + sha; }
std::string UploadPrefix(const std::string& b) { return "oss/u/" + b + "/"; }
std::string PartPrefix(const std::string& b, const std::string& id) { return "oss/p/" + b + "/" + id + "/"; }
std::string PartKey(const std::string& b, const std::string& id, uint32_t n) {
  char name[8];
  std::snprintf(name, sizeof(name), "%05u", n);
  return PartPrefix(b, id) + name;
}
// The roots of the parts <id> that are chunks (PartChunks): one empty
// object each, named <NNNNN>-<chunk id hex>-<part size>, so that garbage
// collection and the stored-bytes count read them from a listing.
std::string RootPrefix(const std::string& b, const std::string& id) { return "oss/k/" + b + "/" + id + "/"; }
std::string RootKey(const std::string& b, const std::string& id, uint32_t n, const Digest256& chunk,
                    uint64_t size) {
  char name[8];
  std::snprintf(name, sizeof(name), "%05u", n);
  return RootPrefix(b, id) + name + "-" + ToHex(chunk) + "-" + std::to_string(size);
}
// The chunk and part size a root key names (false: not a root key).
bool ParseRootKey(const std::string& s3_key, Digest256* chunk, uint64_t* size) {
  const size_t name = s3_key.rfind('/');
  if (name == std::string::npos) return false;
  const std::string rest = s3_key.substr(name + 1);  // NNNNN-<hex>-<size>
  if (rest.size() < 5 + 1 + 64 + 2 || rest[5] != '-' || rest[70] != '-') return false;
  if (!FromHex(rest.substr(6, 64), chunk)) return false;
  const std::string digits = rest.substr(71);
  if (digits.empty() || digits.size() > 12 || digits.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  *size = std::stoull(digits);
  return true;
}
// The key a parted object's parts (oss/p/<bucket>/<id>/) were made for.
std::string DoneKey(const std::string& b, const std::string& id) { return "oss/d/" + b + "/" + id; }
std::string MarkKey(const std::string& b, const std::string& key) {
  return "oss/s/" + b + "/" + Sha256Hex(key);
}
std::string ClaimPrefix(const std::string& b, const std::string& key) {
  return "oss/c/" + b + "/" + Sha256Hex(key) + "/";
}

bool ValidUploadId(const std::string& id) {
  return id.size() == 32 && id.find_first_not_of("0123456789ABCDEF") == std::string::npos;
}
std::string NewUploadId() {
  std::string id = RandomHex(16);
  for (char& c : id) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return id;
}
bool ValidTaskId(const std::string& id) {
  return !id.empty() && id.size() <= 128 &&
         std::all_of(id.begin(), id.end(),
                     [](char c) {
                       return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
                     }) &&
         id != "." && id != "..";
}

// The Status of a failed write of an object: a key longer than the gateway
// takes (Ceph's rgw_max_obj_name_len, 1024 bytes by default, counts the
// store's own prefix too) is the client's InvalidObjectName.
Status WriteError(const S3Answer& a, const std::string& what) {
  if (a.error_code == oss_error::kInvalidObjectName) {
    return InvalidArgument(oss_error::kInvalidObjectName,
                           "The object name is longer than this region's object store takes (its gateway "
                           "refused " +
                               what + ").");
  }
  return a.Error(what);
}

std::span<const uint8_t> AsBytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string Md5Base64(const Md5Digest& md5) {
  return Base64Encode(std::string_view(reinterpret_cast<const char*>(md5.data()), md5.size()));
}

// "<hex>" as S3 shows an ETag, compared with an MD5.
bool EtagIsMd5(const std::string& s3_etag, const Md5Digest& md5) {
  return NormalizeEtag(s3_etag) == NormalizeEtag(ToHex(md5));
}

// ---------------------------------------------------------------- records

Result<nlohmann::json> ParseJson(std::span<const uint8_t> body, const std::string& what) {
  nlohmann::json j = nlohmann::json::parse(body.begin(), body.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return DataLoss(what + " is not a JSON object");
  return j;
}

Result<S3Answer> Get(S3Client& s3, const std::string& key, uint64_t max_bytes = kMaxRecordBytes) {
  S3Request r;
  r.method = "GET";
  r.key = key;
  r.max_bytes = max_bytes;
  return s3.Call(r);
}

Result<S3Answer> Head(S3Client& s3, const std::string& key) {
  S3Request r;
  r.method = "HEAD";
  r.key = key;
  return s3.Call(r);
}

Status Put(S3Client& s3, const std::string& key, const std::string& body,
           std::vector<std::pair<std::string, std::string>> headers = {}) {
  S3Request r;
  r.method = "PUT";
  r.key = key;
  r.body = AsBytes(body);
  r.headers = std::move(headers);
  ASSIGN_OR_RETURN(S3Answer a, s3.Call(r));
  if (!a.ok()) return a.Error("PUT " + key);
  return Status::Ok();
}

Status Delete(S3Client& s3, const std::string& key) {
  S3Request r;
  r.method = "DELETE";
  r.key = key;
  ASSIGN_OR_RETURN(S3Answer a, s3.Call(r));
  if (a.ok() || a.status == 404) return Status::Ok();
  return a.Error("DELETE " + key);
}

// One page of a ListObjectsV2.
struct ListPage {
  struct Item {
    std::string key;  // or a common prefix
    bool prefix = false;
    uint64_t size = 0;
    std::string etag;
    int64_t last_modified = 0;
  };
  std::vector<Item> items;  // contents and prefixes, in key order
  bool truncated = false;
  std::string next_token;
};

// `prefix`, `start_after` and `token` are full keys (below the location's
// prefix, which this adds and strips).
Result<ListPage> ListOnce(S3Client& s3, const std::string& prefix, const std::string& delimiter,
                          const std::string& start_after, const std::string& token, uint32_t max_keys) {
  const std::string& loc = s3.location().prefix;
  S3Request r;
  r.method = "GET";
  std::string q;
  if (!token.empty()) q += "continuation-token=" + S3Client::EncodeQuery(token) + "&";
  if (!delimiter.empty()) q += "delimiter=" + S3Client::EncodeQuery(delimiter) + "&";
  q += "list-type=2&max-keys=" + std::to_string(max_keys);
  q += "&prefix=" + S3Client::EncodeQuery(loc + prefix);
  if (token.empty() && !start_after.empty()) q += "&start-after=" + S3Client::EncodeQuery(loc + start_after);
  r.query = q;
  ASSIGN_OR_RETURN(S3Answer a, s3.Call(r));
  if (!a.ok()) return a.Error("LIST " + prefix);
  ListPage page;
  std::vector<ListPage::Item> contents, prefixes;
  Status bad;
  RETURN_IF_ERROR(S3Client::ParseXml(a.body, [&](const std::string& path, const std::string& text) {
    if (path == "ListBucketResult/IsTruncated") page.truncated = text == "true";
    if (path == "ListBucketResult/NextContinuationToken") page.next_token = text;
    if (path == "ListBucketResult/Contents/Key") contents.push_back({text});
    if (contents.empty()) {
    } else if (path == "ListBucketResult/Contents/Size") {
      char* end = nullptr;
      contents.back().size = std::strtoull(text.c_str(), &end, 10);
      if (text.empty() || *end != '\0') bad = DataLoss("S3: LIST: size '" + text + "' is not a number");
    } else if (path == "ListBucketResult/Contents/ETag") {
      contents.back().etag = text;
    } else if (path == "ListBucketResult/Contents/LastModified") {
      contents.back().last_modified = ParseS3Time(text);
    }
    if (path == "ListBucketResult/CommonPrefixes/Prefix") prefixes.push_back({text, true});
  }));
  RETURN_IF_ERROR(bad);
  std::merge(contents.begin(), contents.end(), prefixes.begin(), prefixes.end(),
             std::back_inserter(page.items),
             [](const ListPage::Item& x, const ListPage::Item& y) { return x.key < y.key; });
  std::erase_if(page.items, [&](const ListPage::Item& i) { return !i.key.starts_with(loc + prefix); });
  for (ListPage::Item& i : page.items) i.key.erase(0, loc.size());
  if (page.truncated && page.next_token.empty())
    return DataLoss("S3: LIST " + prefix + ": truncated, no token");
  return page;
}

// Every key under `prefix` (full keys, in order), with sizes.
Status ListAll(S3Client& s3, const std::string& prefix,
               const std::function<void(const ListPage::Item&)>& fn) {
  std::string token;
  for (int i = 0; i < kMaxListPages; ++i) {
    ASSIGN_OR_RETURN(ListPage page, ListOnce(s3, prefix, "", "", token, 1000));
    for (const ListPage::Item& item : page.items) fn(item);
    if (!page.truncated) return Status::Ok();
    token = page.next_token;
  }
  return DataLoss("S3: LIST " + prefix + ": too many pages");
}

Status DeleteAll(S3Client& s3, const std::string& prefix) {
  std::vector<std::string> keys;
  RETURN_IF_ERROR(ListAll(s3, prefix, [&](const ListPage::Item& i) { keys.push_back(i.key); }));
  for (const std::string& k : keys) RETURN_IF_ERROR(Delete(s3, k));
  return Status::Ok();
}

// ------------------------------------------------------- object metadata

nlohmann::json InfoJson(const ObjectInfo& i) {
  nlohmann::json j = {{"v", kMetaVersion},    {"size", i.size},
                      {"etag", i.etag},       {"type", ObjectTypeName(i.type)},
                      {"ct", i.content_type}, {"meta", UserMetaJson(i.user_meta)},
                      {"lm", i.last_modified}};
  if (i.crc64) j["crc64"] = *i.crc64;
  if (i.content_md5) j["md5"] = ToHex(*i.content_md5);
  return j;
}

Result<ObjectInfo> InfoFromJson(const nlohmann::json& j, const std::string& key) {
  try {
    ObjectInfo i;
    i.key = key;
    i.size = j.at("size").get<uint64_t>();
    i.etag = j.at("etag").get<std::string>();
    i.type = j.at("type").get<std::string>() == "Multipart" ? ObjectType::kMultipart : ObjectType::kNormal;
    i.content_type = j.at("ct").get<std::string>();
    i.user_meta = UserMetaFrom(j.at("meta"));
    i.last_modified = j.at("lm").get<int64_t>();
    if (j.contains("crc64")) i.crc64 = j["crc64"].get<uint64_t>();
    if (j.contains("md5")) {
      Md5Digest md5{};
      const std::string hex = j["md5"].get<std::string>();
      if (!FromHex(hex, &md5)) return DataLoss("bad md5 in the metadata of " + key);
      i.content_md5 = md5;
    }
    return i;
  } catch (const nlohmann::json::exception& e) {
    return DataLoss("the metadata of object '" + Echo(key) + "' does not parse: " + e.what());
  }
}

std::string EncodeHeaderJson(const nlohmann::json& j) { return Base64Encode(j.dump()); }

Result<nlohmann::json> DecodeHeaderJson(const std::string& header, const std::string& what) {
  std::string text;
  if (!Base64Decode(header, &text)) return DataLoss(what + ": its metadata header is not base64");
  return ParseJson(AsBytes(text), what + "'s metadata");
}

// A parted object (below): its header names its parts.
struct PartedMeta {
  std::string id;               // its parts are oss/p/<bucket>/<id>/
  uint64_t manifest_bytes = 0;  // the S3 object's own size: the manifest
  uint64_t data_bytes = 0;      // of its parts that are not zeros
};

// The x-amz-meta-ferry value for an object's info: the JSON itself, or the
// name of a sidecar holding it (written here first, content-addressed, so
// it exists before the object names it and is never rewritten). A parted
// object's parts are named in the header itself either way.
Result<std::string> MetaHeader(S3Client& s3, const std::string& bucket, const ObjectInfo& info,
                               const PartedMeta* parted = nullptr) {
  nlohmann::json j = InfoJson(info);
  nlohmann::json p;
  if (parted) p = {{"id", parted->id}, {"bytes", parted->manifest_bytes}, {"data", parted->data_bytes}};
  if (parted) j["parted"] = p;
  const std::string json = j.dump();
  std::string header = Base64Encode(json);
  if (header.size() <= kMaxMetaHeaderBytes) return header;
  const std::string sha = Sha256Hex(json);
  RETURN_IF_ERROR(Put(s3, SidecarKey(bucket, sha), json));
  nlohmann::json small = {{"v", kMetaVersion}, {"sidecar", sha}};
  if (parted) small["parted"] = p;
  return EncodeHeaderJson(small);
}

// An object as its HEAD (or GET) answer describes it.
struct Described {
  ObjectInfo info;
  std::optional<PartedMeta> parted;
};

Result<std::optional<PartedMeta>> PartedOf(const nlohmann::json& j, const std::string& key) {
  if (!j.contains("parted")) return std::optional<PartedMeta>();
  try {
    const nlohmann::json& p = j.at("parted");
    PartedMeta m{p.at("id").get<std::string>(), p.at("bytes").get<uint64_t>(), p.at("data").get<uint64_t>()};
    if (!ValidUploadId(m.id) || m.manifest_bytes > kMaxManifestBytes) {
      return DataLoss("object '" + Echo(key) + "' names bad parts");
    }
    return std::optional<PartedMeta>(std::move(m));
  } catch (const nlohmann::json::exception& e) {
    return DataLoss("the parts of object '" + Echo(key) + "' do not parse: " + e.what());
  }
}

Result<Described> Describe(S3Client& s3, const S3Answer& a, const std::string& bucket,
                           const std::string& key) {
  if (a.ferry_meta.empty()) {
    // Not written through Ferry (an operator's copy): what S3 says.
    Described d;
    ObjectInfo& i = d.info;
    i.key = key;
    i.size = a.content_length.value_or(0);
    i.etag = "\"" + NormalizeEtag(a.etag) + "\"";
    i.content_type = "application/octet-stream";
    i.last_modified = 0;
    return d;
  }
  ASSIGN_OR_RETURN(nlohmann::json j, DecodeHeaderJson(a.ferry_meta, "object '" + Echo(key) + "'"));
  Described d;
  ASSIGN_OR_RETURN(d.parted, PartedOf(j, key));
  if (j.contains("sidecar")) {
    const std::string sha = j["sidecar"].is_string() ? j["sidecar"].get<std::string>() : "";
    if (sha.size() != 64 || sha.find_first_not_of("0123456789abcdef") != std::string::npos) {
      return DataLoss("object '" + Echo(key) + "' names a bad metadata sidecar");
    }
    ASSIGN_OR_RETURN(S3Answer side, Get(s3, SidecarKey(bucket, sha)));
    if (!side.ok()) return side.Error("GET the metadata of " + key);
    if (Sha256Hex(std::string_view(reinterpret_cast<const char*>(side.body.data()), side.body.size())) !=
        sha) {
      return DataLoss("the metadata sidecar of object '" + Echo(key) + "' does not match its hash");
    }
    ASSIGN_OR_RETURN(j, ParseJson(side.body, "the metadata of '" + Echo(key) + "'"));
  }
  ASSIGN_OR_RETURN(d.info, InfoFromJson(j, key));
  const uint64_t stored = d.parted ? d.parted->manifest_bytes : d.info.size;
  if (a.content_length && *a.content_length != stored) {
    return DataLoss("object '" + Echo(key) + "' holds " + std::to_string(*a.content_length) +
                    " bytes, its metadata says " + std::to_string(stored));
  }
  if (d.parted && d.parted->data_bytes > d.info.size) {
    return DataLoss("object '" + Echo(key) + "' has more data in its parts than bytes");
  }
  return d;
}

// ----------------------------------------------------------- spool files

Result<UniqueFd> NewSpoolFile(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (!fd.valid()) return ErrnoStatus("create a temp file in", dir, errno);
  return fd;
}

// True when [offset, offset + length) of `fd` holds no data extent.
bool IsHole(int fd, uint64_t offset, uint64_t length) {
  const off_t data = ::lseek(fd, static_cast<off_t>(offset), SEEK_DATA);
  if (data < 0) return errno == ENXIO;  // no data after offset
  return static_cast<uint64_t>(data) >= offset + length;
}

struct RangeDigests {
  Md5Digest md5{};
  uint64_t crc64 = 0;
};

// The MD5 and CRC-64 of [offset, offset + length) of `fd` (holes read as
// zeros).
Result<RangeDigests> DigestsOfRange(int fd, uint64_t offset, uint64_t length, const std::string& label) {
  Md5 md5;
  uint64_t crc = 0;
  std::vector<uint8_t> buf(std::min<uint64_t>(length, 1u << 20));
  for (uint64_t at = 0; at < length;) {
    const uint64_t n = std::min<uint64_t>(buf.size(), length - at);
    RETURN_IF_ERROR(PreadFull(fd, buf.data(), n, offset + at, label));
    const std::span<const uint8_t> piece(buf.data(), n);
    md5.Update(piece);
    crc = Crc64Update(crc, piece);
    at += n;
  }
  return RangeDigests{md5.Finish(), crc};
}

// The parts of a parted object made from a file of `size` bytes: 8 MiB
// (what a hole must span to be left out), larger for files past 78 GiB
// (10,000 parts at most), whole MiBs.
uint64_t ExportPartBytes(uint64_t size) {
  constexpr uint64_t kMiB = uint64_t{1} << 20;
  const uint64_t least = (size + ObjectStore::kMaxPartNumber - 1) / ObjectStore::kMaxPartNumber;
  return std::max(8 * kMiB, (least + kMiB - 1) / kMiB * kMiB);
}

// The MD5 of [offset, offset + length) of `fd`, holes not read.
Result<Md5Digest> Md5OfRange(int fd, uint64_t offset, uint64_t length, const std::string& label) {
  if (IsHole(fd, offset, length)) return Md5OfZeros(length);
  ASSIGN_OR_RETURN(const RangeDigests digests, DigestsOfRange(fd, offset, length, label));
  return digests.md5;
}

// Sends [offset, offset + length) of `fd` in one PUT (an object, or a part
// when `query` names one) with its Content-MD5: the gateway refuses bytes
// that arrive otherwise. Returns the answer's ETag, checked to be that MD5.
Result<std::string> PutFromFd(S3Client& s3, const std::string& key, const std::string& query, int fd,
                              uint64_t offset, uint64_t length,
                              std::vector<std::pair<std::string, std::string>> headers,
                              std::optional<Md5Digest> md5, const std::string& label) {
  if (!md5) {
    ASSIGN_OR_RETURN(md5, Md5OfRange(fd, offset, length, label));
  }
  headers.emplace_back("content-md5", Md5Base64(*md5));
  S3Request r;
  r.method = "PUT";
  r.key = key;
  r.query = query;
  r.headers = std::move(headers);
  r.body_fd = fd;
  r.body_offset = offset;
  r.body_length = length;
  ASSIGN_OR_RETURN(S3Answer a, s3.Call(r));
  if (!a.ok()) return WriteError(a, "PUT " + label);
  if (!EtagIsMd5(a.etag, *md5)) {
    return DataLoss("S3: PUT " + label + ": the store's ETag " + a.etag +
                    " is not the MD5 of the bytes sent");
  }
  return a.etag;
}

// An S3 multipart upload of one object; parts may be added from several
// threads.
class S3Multipart {
 public:
  static Result<std::unique_ptr<S3Multipart>> Begin(S3Client& s3, const std::string& key,
                                                    const std::string& meta_header) {
    S3Request r;
    r.method = "POST";
    r.key = key;
    r.query = "uploads=";
    r.headers = {{"x-amz-meta-ferry", meta_header}};
    ASSIGN_OR_RETURN(S3Answer a, s3.Call(r));
    if (!a.ok()) return WriteError(a, "POST uploads for an object");
    std::string id;
    RETURN_IF_ERROR(S3Client::ParseXml(a.body, [&](const std::string& path, const std::string& text) {
      if (path == "InitiateMultipartUploadResult/UploadId") id = text;
    }));
    if (id.empty()) return DataLoss("S3: POST uploads: no UploadId in the answer");
    return std::unique_ptr<S3Multipart>(new S3Multipart(s3, key, id));
  }
  ~S3Multipart() {
    if (!done_) Abort();
  }

  Status AddFromFd(uint32_t part_number, int fd, uint64_t offset, uint64_t length, const std::string& label) {
    ASSIGN_OR_RETURN(std::string etag,
                     PutFromFd(s3_, key_, PartQuery(part_number), fd, offset, length, {}, std::nullopt,
                               label + " part " + std::to_string(part_number)));
    Record(part_number, etag);
    return Status::Ok();
  }
  Status Complete() {
    std::string xml = "<CompleteMultipartUpload>";
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (size_t i = 0; i < etags_.size(); ++i) {
        if (etags_[i].empty()) return Internal("S3: part " + std::to_string(i + 1) + " was never sent");
        xml += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" + etags_[i] +
               "</ETag></Part>";
      }
    }
    xml += "</CompleteMultipartUpload>";
    S3Request r;
    r.method = "POST";
    r.key = key_;
    r.query = "uploadId=" + S3Client::EncodeQuery(id_);
    r.body = AsBytes(xml);
    ASSIGN_OR_RETURN(S3Answer a, s3_.Call(r));
    std::string code;
    if (a.ok()) {
      RETURN_IF_ERROR(S3Client::ParseXml(a.body, [&](const std::string& path, const std::string& text) {
        if (path == "Error/Code") code = text;
      }));
    }
    if (!a.ok() || !code.empty()) {
      if (a.ok()) a.status = 500, a.error_code = code;
      return a.Error("complete an object");
    }
    done_ = true;
    return Status::Ok();
  }
  void Abort() {
    S3Request r;
    r.method = "DELETE";
    r.key = key_;
    r.query = "uploadId=" + S3Client::EncodeQuery(id_);
    (void)s3_.Call(r);
    done_ = true;
  }

 private:
  S3Multipart(S3Client& s3, std::string key, std::string id)
      : s3_(s3), key_(std::move(key)), id_(std::move(id)) {}
  std::string PartQuery(uint32_t n) const {
    return "partNumber=" + std::to_string(n) + "&uploadId=" + S3Client::EncodeQuery(id_);
  }
  void Record(uint32_t n, const std::string& etag) {
    std::lock_guard<std::mutex> lock(mu_);
    if (etags_.size() < n) etags_.resize(n);
    etags_[n - 1] = etag;
  }

  S3Client& s3_;
  std::string key_;
  std::string id_;
  std::mutex mu_;
  std::vector<std::string> etags_;  // guarded by mu_
  bool done_ = false;
};

// Publishes `size` bytes of `fd` as the object `key` with `meta_header`:
// one PUT up to kS3PartBytes (unless `multipart`: an object whose ETag is
// not its MD5 always goes in parts, so that a listing can tell), else an
// S3 multipart upload, two parts at a time.
Status UploadFile(S3Client& s3, const std::string& key, int fd, uint64_t size, const std::string& meta_header,
                  std::optional<Md5Digest> md5, bool multipart, const std::string& label) {
  if (!multipart && size <= kS3PartBytes) {
    return PutFromFd(s3, key, "", fd, 0, size, {{"x-amz-meta-ferry", meta_header}}, md5, label).status();
  }
  const uint64_t part =
      std::max(kS3PartBytes, ((size + 9999) / 10000 + (1u << 20) - 1) & ~uint64_t{(1u << 20) - 1});
  const uint32_t parts = static_cast<uint32_t>(std::max<uint64_t>(1, (size + part - 1) / part));
  ASSIGN_OR_RETURN(std::unique_ptr<S3Multipart> up, S3Multipart::Begin(s3, key, meta_header));
  RETURN_IF_ERROR(ParallelFor(parts, 2, label, [&](size_t i) {
    const uint64_t offset = i * part;
    return up->AddFromFd(static_cast<uint32_t>(i + 1), fd, offset, std::min(part, size - offset), label);
  }));
  return up->Complete();
}

// ---------------------------------------------------------- parted objects
//
// A multipart upload completes, and a large file (an export) is published,
// as a parted object: oss/o/<bucket>/<key> holds its manifest, the list of
// its parts, and the parts stay where they were written
// (oss/p/<bucket>/<id>/<NNNNN>); a part of zeros is only its length.
// Completing moves no bytes, and a reader fetches the data parts only,
// several at a time. oss/d/<bucket>/<id> names the key the parts are for,
// written before the manifest: whoever replaces or deletes a parted object
// frees its parts, and the sweep frees those that no object names any more
// (a writer that crashed between its parts and its manifest, two writers
// that replaced one object at once).

struct ManifestPart {
  uint32_t number = 0;
  uint64_t size = 0;
  Md5Digest md5{};
  uint64_t crc64 = 0;
  bool zeros = false;
  std::optional<Digest256> chunk;  // the part is this chunk (PartChunks)
};

std::string ManifestJson(const std::string& id, const std::vector<ManifestPart>& parts) {
  nlohmann::json list = nlohmann::json::array();
  for (const ManifestPart& p : parts) {
    nlohmann::json e = {p.number, p.size, ToHex(p.md5), p.crc64, p.zeros};
    if (p.chunk) e.push_back(ToHex(*p.chunk));
    list.push_back(std::move(e));
  }
  return nlohmann::json{{"v", kMetaVersion}, {"id", id}, {"parts", std::move(list)}}.dump();
}

// The manifest, checked against the object it describes: parts in order,
// zero parts the CRC-64 of zeros, the sizes adding up to the object's and
// the CRC-64s to its CRC-64.
Result<std::vector<ManifestPart>> ParseManifest(std::span<const uint8_t> body, const PartedMeta& meta,
                                                const ObjectInfo& info, const std::string& label) {
  ASSIGN_OR_RETURN(nlohmann::json j, ParseJson(body, "the manifest of " + label));
  const Status bad = DataLoss("the manifest of " + label + " does not describe it");
  std::vector<ManifestPart> parts;
  uint64_t total = 0, data = 0, crc = 0;
  try {
    if (j.at("id").get<std::string>() != meta.id) return bad;
    for (const nlohmann::json& e : j.at("parts")) {
      ManifestPart p;
      p.number = e.at(0).get<uint32_t>();
      p.size = e.at(1).get<uint64_t>();
      if (!FromHex(e.at(2).get<std::string>(), &p.md5)) return bad;
      p.crc64 = e.at(3).get<uint64_t>();
      p.zeros = e.at(4).get<bool>();
      if (e.size() > 5) {
        Digest256 chunk{};
        if (p.zeros || !FromHex(e.at(5).get<std::string>(), &chunk)) return bad;
        p.chunk = chunk;
      }
      if (p.number < 1 || p.number > ObjectStore::kMaxPartNumber ||
          (!parts.empty() && p.number <= parts.back().number) || p.size > ObjectStore::kMaxPutBytes ||
          (p.zeros && p.crc64 != Crc64ExtendZeros(0, p.size))) {
        return bad;
      }
      total += p.size;
      if (!p.zeros) data += p.size;
      crc = Crc64Combine(crc, p.crc64, p.size);
      parts.push_back(p);
    }
  } catch (const nlohmann::json::exception&) {
    return bad;
  }
  if (total != info.size || data != meta.data_bytes || (info.crc64 && *info.crc64 != crc)) return bad;
  return parts;
}

// Names the key the parts `id` are for (before there are any: the sweep
// finds them by this name).
Status NameParts(S3Client& s3, const std::string& bucket, const std::string& id, const std::string& key) {
  return Put(s3, DoneKey(bucket, id), nlohmann::json{{"key", key}}.dump());
}

// Frees the parts `id`, their roots and their name.
Status FreeParts(S3Client& s3, const std::string& bucket, const std::string& id) {
  RETURN_IF_ERROR(DeleteAll(s3, PartPrefix(bucket, id)));
  RETURN_IF_ERROR(DeleteAll(s3, RootPrefix(bucket, id)));
  return Delete(s3, DoneKey(bucket, id));
}

// The id of the parts of the object at `s3_key`: none when there is no
// object there or it is not parted.
Result<std::optional<std::string>> PartsIdAt(S3Client& s3, const std::string& s3_key) {
  ASSIGN_OR_RETURN(S3Answer a, Head(s3, s3_key));
  if (a.status == 404) return std::optional<std::string>();
  if (!a.ok()) return a.Error("HEAD " + s3_key);
  if (a.ferry_meta.empty()) return std::optional<std::string>();
  ASSIGN_OR_RETURN(nlohmann::json j, DecodeHeaderJson(a.ferry_meta, s3_key));
  ASSIGN_OR_RETURN(std::optional<PartedMeta> p, PartedOf(j, s3_key));
  if (!p) return std::optional<std::string>();
  return std::optional<std::string>(p->id);
}

// Runs `write`, which puts an object at `s3_key` (or deletes it); then the
// parts of the parted object that was there go, unless they are `keep`.
// (When they cannot be told, the sweep frees them.)
Status Replacing(S3Client& s3, const std::string& bucket, const std::string& s3_key, const std::string& keep,
                 const std::function<Status()>& write) {
  Result<std::optional<std::string>> replaced = PartsIdAt(s3, s3_key);
  RETURN_IF_ERROR(write());
  if (replaced.ok() && *replaced && **replaced != keep) (void)FreeParts(s3, bucket, **replaced);
  return Status::Ok();
}

Status RemoveObject(S3Client& s3, const std::string& bucket, const std::string& s3_key) {
  return Replacing(s3, bucket, s3_key, "", [&] { return Delete(s3, s3_key); });
}

// Publishes `info` at `s3_key` as the parted object of `parts` (already in
// the store, and named): its manifest goes as an S3 multipart upload of one
// part, so that a listing, seeing a '-' in its ETag, asks for its info
// rather than taking the manifest's size and MD5 for the object's.
Status PublishParted(S3Client& s3, const std::string& spool_dir, const std::string& bucket,
                     const std::string& s3_key, const ObjectInfo& info, const std::string& id,
                     const std::vector<ManifestPart>& parts, const std::string& label) {
  const std::string body = ManifestJson(id, parts);
  if (body.size() > kMaxManifestBytes) return Internal("the manifest of " + label + " is too large");
  PartedMeta meta{id, body.size(), 0};
  for (const ManifestPart& p : parts) {
    if (!p.zeros) meta.data_bytes += p.size;
  }
  ASSIGN_OR_RETURN(std::string header, MetaHeader(s3, bucket, info, &meta));
  ASSIGN_OR_RETURN(UniqueFd fd, NewSpoolFile(spool_dir));
  RETURN_IF_ERROR(PwriteFull(fd.get(), reinterpret_cast<const uint8_t*>(body.data()), body.size(), 0, label));
  return Replacing(s3, bucket, s3_key, id, [&] {
    return UploadFile(s3, s3_key, fd.get(), body.size(), header, std::nullopt, true, label);
  });
}

// Writes `bytes`, which belong at `pos` of `fd`; all-zero 4 KiB blocks are
// left as holes.
Status WriteKeepingHoles(int fd, uint64_t pos, std::span<const uint8_t> bytes, const std::string& label) {
  size_t at = 0;
  while (at < bytes.size()) {
    const uint64_t here = pos + at;
    const size_t n = std::min<size_t>(bytes.size() - at, 4096 - here % 4096);
    const auto first = bytes.begin() + static_cast<ptrdiff_t>(at);
    const bool zero = n == 4096 && std::all_of(first, first + 4096, [](uint8_t b) { return b == 0; });
    if (!zero) RETURN_IF_ERROR(PwriteFull(fd, bytes.data() + at, n, here, label));
    at += n;
  }
  return Status::Ok();
}

// The parts of the parted object `d` at `s3_key` (whose HEAD answered
// `head`): its manifest, read If-Match the HEAD's ETag and checked against
// `d`. nullopt: the object was replaced or deleted since the HEAD.
Result<std::optional<std::vector<ManifestPart>>> ReadManifest(S3Client& s3, const std::string& s3_key,
                                                              const S3Answer& head, const Described& d,
                                                              const std::string& label) {
  S3Request r;
  r.method = "GET";
  r.key = s3_key;
  r.headers = {{"if-match", head.etag}};
  r.max_bytes = d.parted->manifest_bytes;
  ASSIGN_OR_RETURN(S3Answer m, s3.Call(r));
  if (m.status == 412 || m.status == 404) return std::optional<std::vector<ManifestPart>>();
  if (!m.ok()) return m.Error("GET " + label);
  ASSIGN_OR_RETURN(std::vector<ManifestPart> parts, ParseManifest(m.body, *d.parted, d.info, label));
  return std::optional<std::vector<ManifestPart>>(std::move(parts));
}

// Fetches `range` of the parted object `d` (whose HEAD answered `head`)
// into `fd` at its offsets: the manifest (If-Match the HEAD's ETag), then
// the data parts it overlaps, kPartThreads at a time, each If-Match its
// MD5, a whole one checked against its CRC-64; a part that is a chunk is
// read from `chunks` (verified against its id) and checked against its
// CRC-64. False: the object was replaced or deleted meanwhile (read it
// again).
Result<bool> ReadParted(S3Client& s3, PartChunks* chunks, const std::string& bucket,
                        const std::string& s3_key, const S3Answer& head, const Described& d,
                        ObjectStore::ByteRange range, int fd, const std::string& label) {
  ASSIGN_OR_RETURN(const std::optional<std::vector<ManifestPart>> listed,
                   ReadManifest(s3, s3_key, head, d, label));
  if (!listed) return false;
  const std::vector<ManifestPart>& parts = *listed;
  struct Piece {
    const ManifestPart* part;
    uint64_t base;  // the part's offset in the object
    uint64_t from;  // the piece's offset in the part
    uint64_t length;
  };
  std::vector<Piece> pieces;
  const uint64_t end = range.offset + range.length;
  uint64_t base = 0;
  for (const ManifestPart& p : parts) {
    const uint64_t lo = std::max(range.offset, base), hi = std::min(end, base + p.size);
    if (!p.zeros && lo < hi) pieces.push_back({&p, base, lo - base, hi - lo});
    base += p.size;
  }
  std::atomic<bool> changed{false};
  const Status fetched = ParallelFor(pieces.size(), kPartThreads, label, [&](size_t i) -> Status {
    const Piece& piece = pieces[i];
    const ManifestPart& p = *piece.part;
    const std::string what = "part " + std::to_string(p.number) + " of " + label;
    const bool whole = piece.from == 0 && piece.length == p.size;
    if (p.chunk) {
      if (chunks == nullptr) {
        return Unavailable(what + " is a chunk of a region's store, and no region here serves this store");
      }
      Result<std::vector<uint8_t>> bytes = chunks->Read(*p.chunk);
      if (bytes.status().code() == Code::kNotFound) {
        changed = true;  // its object was replaced and the chunk collected
        return Unavailable(what + " is gone");
      }
      RETURN_IF_ERROR(bytes.status());
      if (bytes->size() != p.size || Crc64Update(0, *bytes) != p.crc64) {
        return DataLoss("S3: " + what + ": its chunk is not the part");
      }
      return WriteKeepingHoles(fd, piece.base + piece.from,
                               std::span<const uint8_t>(*bytes).subspan(piece.from, piece.length), label);
    }
    S3Request g;
    g.method = "GET";
    g.key = PartKey(bucket, d.parted->id, p.number);
    g.headers = {{"if-match", "\"" + ToHex(p.md5) + "\""}};
    if (!whole) {
      g.headers.emplace_back("range", "bytes=" + std::to_string(piece.from) + "-" +
                                          std::to_string(piece.from + piece.length - 1));
    }
    g.max_bytes = piece.length;
    uint64_t crc = 0;
    Status sink_error;
    g.sink = [&](uint64_t offset, std::span<const uint8_t> bytes) {
      if (offset == 0) crc = 0;  // a retry starts again
      crc = Crc64Update(crc, bytes);
      sink_error = WriteKeepingHoles(fd, piece.base + piece.from + offset, bytes, label);
      return sink_error.ok();
    };
    ASSIGN_OR_RETURN(S3Answer a, s3.Call(g));
    RETURN_IF_ERROR(sink_error);
    if (a.status == 404 || a.status == 412) {
      changed = true;
      return Unavailable(what + " is gone");  // stops the others
    }
    if (!a.ok()) return a.Error("GET " + what);
    if (a.sunk != piece.length || (!whole && a.status != 206)) {
      return DataLoss("S3: GET " + what + ": " + std::to_string(a.sunk) + " bytes of " +
                      std::to_string(piece.length) + " (HTTP " + std::to_string(a.status) + ")");
    }
    if (whole && crc != p.crc64) return DataLoss("S3: GET " + what + ": the bytes fail their CRC-64");
    return Status::Ok();
  });
  if (changed) return false;
  RETURN_IF_ERROR(fetched);
  return true;
}

// ---------------------------------------------------------------- writers

// Bytes written to an unlinked spool file, hashed as they come; or, for a
// part of at most one chunk (kept as a chunk: its bytes are wanted whole in
// memory), to memory.
class Spool {
 public:
  Spool(UniqueFd fd, uint64_t max_bytes, std::string label)
      : fd_(std::move(fd)), max_bytes_(max_bytes), label_(std::move(label)) {}
  // In memory: at most `max_bytes` (a chunk), in a buffer of `pool`.
  Spool(BufferPool& pool, uint64_t max_bytes, std::string label)
      : pool_(&pool), memory_(pool.Take(max_bytes)), max_bytes_(max_bytes), label_(std::move(label)) {}
  ~Spool() {
    if (pool_ != nullptr) pool_->Give(std::move(memory_));
  }
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;
  Status Write(std::span<const uint8_t> data) {
    RETURN_IF_ERROR(Room(data.size()));
    if (fd_.valid()) {
      RETURN_IF_ERROR(PwriteFull(fd_.get(), data.data(), data.size(), size_, label_));
    } else if (!data.empty()) {
      std::memcpy(memory_.data() + size_, data.data(), data.size());
    }
    md5_.Update(data);
    crc_ = Crc64Update(crc_, data);
    size_ += data.size();
    return Status::Ok();
  }
  Status WriteZeros(uint64_t count) {
    RETURN_IF_ERROR(Room(count));
    if (!fd_.valid()) {
      if (count > 0) std::memset(memory_.data() + size_, 0, count);
    } else if (::ftruncate(fd_.get(), static_cast<off_t>(size_ + count)) != 0) {
      return ErrnoStatus("extend", label_, errno);
    }
    fsobj::Md5Zeros(md5_, count);
    crc_ = Crc64ExtendZeros(crc_, count);
    size_ += count;
    return Status::Ok();
  }
  uint64_t size() const { return size_; }
  uint64_t crc64() const { return crc_; }
  Md5Digest Finish() { return md5_.Finish(); }
  int fd() const { return fd_.get(); }  // -1 in memory
  bool in_memory() const { return !fd_.valid(); }
  std::span<const uint8_t> memory() const { return {memory_.data(), in_memory() ? size_ : 0}; }

 private:
  Status Room(uint64_t more) const {
    if (more > max_bytes_ - size_) {
      return ObjectStore::CheckSize(size_ + more, max_bytes_, label_);
    }
    return Status::Ok();
  }
  UniqueFd fd_;
  BufferPool* pool_ = nullptr;   // in memory: where memory_ goes back to
  std::vector<uint8_t> memory_;  // in memory: room for max_bytes_, the first size_ written
  uint64_t max_bytes_;
  std::string label_;
  Md5 md5_;
  uint64_t crc_ = 0;
  uint64_t size_ = 0;
};

class S3PutWriter final : public fsobj::HashingFileWriter<ObjectPutWriter, Spool> {
 public:
  S3PutWriter(std::shared_ptr<S3ObjectStore::Shared> shared, std::string bucket, std::string key,
              std::string s3_key, PutOptions options, std::unique_ptr<Spool> spool)
      : HashingFileWriter(std::move(spool), "object " + bucket + "/" + Echo(key)),
        shared_(std::move(shared)),
        bucket_(std::move(bucket)),
        key_(std::move(key)),
        s3_key_(std::move(s3_key)),
        options_(std::move(options)) {}

  Result<ObjectInfo> Commit() override {
    RETURN_IF_ERROR(Usable());
    std::unique_ptr<Spool> spool = std::move(file_);
    const Md5Digest md5 = spool->Finish();
    if (options_.expected_md5 && *options_.expected_md5 != md5) {
      return InvalidArgument(oss_error::kInvalidDigest,
                             "The Content-MD5 you specified (" + ToHex(*options_.expected_md5) +
                                 ") does not match what was received (" + ToHex(md5) + ").");
    }
    ObjectInfo info;
    info.key = key_;
    info.size = spool->size();
    info.etag = QuotedMd5Etag(md5);
    info.crc64 = spool->crc64();
    info.content_md5 = md5;
    info.content_type = options_.content_type.empty() ? "application/octet-stream" : options_.content_type;
    info.user_meta = options_.user_meta;
    info.last_modified = shared_->clock.Now();
    info.type = ObjectType::kNormal;
    S3Client& s3 = *shared_->s3;
    ASSIGN_OR_RETURN(std::string header, MetaHeader(s3, bucket_, info));
    RETURN_IF_ERROR(Replacing(s3, bucket_, s3_key_, "", [&] {
      return UploadFile(s3, s3_key_, spool->fd(), info.size, header, md5, false,
                        "object " + bucket_ + "/" + Echo(key_));
    }));
    return info;
  }

 private:
  std::shared_ptr<S3ObjectStore::Shared> shared_;
  std::string bucket_, key_, s3_key_;
  PutOptions options_;
};

struct StoredPart {
  PartInfo info;
  Md5Digest md5{};
  bool zeros = false;
  std::optional<Digest256> chunk;  // the part is this chunk; the S3 object is empty
};

nlohmann::json PartJson(const StoredPart& p) {
  nlohmann::json j = {{"v", kMetaVersion},     {"size", p.info.size},        {"md5", ToHex(p.md5)},
                      {"crc64", p.info.crc64}, {"lm", p.info.last_modified}, {"zeros", p.zeros}};
  if (p.chunk) j["chunk"] = ToHex(*p.chunk);
  return j;
}

class S3PartWriter final : public fsobj::HashingFileWriter<PartWriter, Spool> {
 public:
  S3PartWriter(std::shared_ptr<S3ObjectStore::Shared> shared, std::string account_id, std::string bucket,
               std::string upload_id, uint32_t part_number, std::optional<Md5Digest> expected_md5,
               std::optional<uint64_t> size, std::unique_ptr<Spool> spool)
      : HashingFileWriter(std::move(spool), "part " + std::to_string(part_number)),
        shared_(std::move(shared)),
        account_id_(std::move(account_id)),
        bucket_(std::move(bucket)),
        upload_id_(std::move(upload_id)),
        s3_key_(PartKey(bucket_, upload_id_, part_number)),
        part_number_(part_number),
        expected_md5_(expected_md5),
        size_(size) {}

  Result<PartInfo> Commit() override {
    RETURN_IF_ERROR(Usable());
    std::unique_ptr<Spool> spool = std::move(file_);
    const std::string what = "part " + std::to_string(part_number_);
    if (size_ && spool->size() != *size_) {
      return InvalidArgument(oss_error::kInvalidArgument, what + " declared " + std::to_string(*size_) +
                                                              " bytes and " + std::to_string(spool->size()) +
                                                              " arrived.");
    }
    const Md5Digest md5 = spool->Finish();
    if (expected_md5_ && *expected_md5_ != md5) {
      return InvalidArgument(oss_error::kInvalidDigest, "The Content-MD5 you specified (" +
                                                            ToHex(*expected_md5_) + ") does not match " +
                                                            what + " (" + ToHex(md5) + ").");
    }
    StoredPart p;
    p.info.part_number = part_number_;
    p.info.size = spool->size();
    p.info.etag = QuotedMd5Etag(md5);
    p.info.crc64 = spool->crc64();
    p.info.last_modified = shared_->clock.Now();
    p.md5 = md5;
    S3Client& s3 = *shared_->s3;
    const std::shared_ptr<PartChunks> chunks = shared_->Chunks();
    if (chunks && p.info.size > 0 && p.info.size <= chunks->max_part_bytes()) {
      // Kept as a chunk (PartChunks): its root first, then its record, an
      // empty object naming it. An all-zero part is only its length.
      std::vector<uint8_t> read_back;
      std::span<const uint8_t> bytes = spool->memory();
      if (!spool->in_memory()) {  // a part that did not say its size
        read_back.resize(p.info.size);
        RETURN_IF_ERROR(PreadFull(spool->fd(), read_back.data(), read_back.size(), 0, what));
        if (Crc64Update(0, read_back) != p.info.crc64) return DataLoss(what + " changed in its spool file");
        bytes = read_back;
      }
      if (IsAllZero(bytes.data(), bytes.size())) {
        p.zeros = true;
      } else {
        ASSIGN_OR_RETURN(p.chunk, chunks->Keep(account_id_, bytes, [&](const Digest256& id) {
          return Put(s3, RootKey(bucket_, upload_id_, part_number_, id, p.info.size), "");
        }));
      }
      RETURN_IF_ERROR(Put(s3, s3_key_, "", {{"x-amz-meta-ferry", EncodeHeaderJson(PartJson(p))}}));
      return p.info;
    }
    // One PUT, whatever its size (up to OSS's 5 GiB): its ETag stays its
    // MD5, which the copy into the object is checked against.
    RETURN_IF_ERROR(PutFromFd(s3, s3_key_, "", spool->fd(), 0, p.info.size,
                              {{"x-amz-meta-ferry", EncodeHeaderJson(PartJson(p))}}, md5, what)
                        .status());
    return p.info;
  }

 private:
  std::shared_ptr<S3ObjectStore::Shared> shared_;
  std::string account_id_, bucket_, upload_id_;
  std::string s3_key_;
  uint32_t part_number_;
  std::optional<Md5Digest> expected_md5_;
  std::optional<uint64_t> size_;
};

struct UploadRecord {
  std::string key;
  UnixSeconds initiated = 0;
  std::string content_type;
  UserMeta meta;
};

Result<UploadRecord> ReadUploadRecord(S3Client& s3, const std::string& bucket, const std::string& upload_id) {
  if (!ValidUploadId(upload_id)) return UploadNotFound(upload_id);
  ASSIGN_OR_RETURN(S3Answer a, Get(s3, UploadPrefix(bucket) + upload_id));
  if (a.status == 404) return UploadNotFound(upload_id);
  if (!a.ok()) return a.Error("GET upload " + upload_id);
  ASSIGN_OR_RETURN(nlohmann::json j, ParseJson(a.body, "upload " + upload_id));
  try {
    UploadRecord r;
    r.key = j.at("key").get<std::string>();
    r.initiated = j.at("initiated").get<int64_t>();
    r.content_type = j.at("ct").get<std::string>();
    r.meta = UserMetaFrom(j.at("meta"));
    return r;
  } catch (const nlohmann::json::exception& e) {
    return DataLoss("upload " + upload_id + " does not parse: " + e.what());
  }
}

Result<std::optional<StoredPart>> ReadPart(S3Client& s3, const std::string& bucket,
                                           const std::string& upload_id, uint32_t n) {
  ASSIGN_OR_RETURN(S3Answer a, Head(s3, PartKey(bucket, upload_id, n)));
  if (a.status == 404) return std::optional<StoredPart>();
  if (!a.ok()) return a.Error("HEAD part " + std::to_string(n));
  ASSIGN_OR_RETURN(nlohmann::json j, DecodeHeaderJson(a.ferry_meta, "part " + std::to_string(n)));
  try {
    StoredPart p;
    p.info.part_number = n;
    p.info.size = j.at("size").get<uint64_t>();
    p.info.crc64 = j.at("crc64").get<uint64_t>();
    p.info.last_modified = j.at("lm").get<int64_t>();
    p.zeros = j.at("zeros").get<bool>();
    if (!FromHex(j.at("md5").get<std::string>(), &p.md5)) {
      return DataLoss("part " + std::to_string(n) + ": bad md5");
    }
    p.info.etag = QuotedMd5Etag(p.md5);
    if (j.contains("chunk")) {
      Digest256 chunk{};
      if (p.zeros || !FromHex(j.at("chunk").get<std::string>(), &chunk)) {
        return DataLoss("part " + std::to_string(n) + ": bad chunk");
      }
      p.chunk = chunk;
    }
    if (!p.zeros && !p.chunk && a.content_length != p.info.size) {
      return DataLoss("part " + std::to_string(n) + ": size");
    }
    return std::optional<StoredPart>(p);
  } catch (const nlohmann::json::exception& e) {
    return DataLoss("part " + std::to_string(n) + " does not parse: " + e.what());
  }
}

}  // namespace

// ================================================================= store

S3ObjectStore::S3ObjectStore(std::shared_ptr<S3Client> client, std::string spool_dir, const Clock& clock)
    : shared_(std::make_shared<Shared>(std::move(client), std::move(spool_dir), clock)) {}

S3ObjectStore::~S3ObjectStore() { StopExpirySweeper(); }

namespace {

struct BucketRecord {
  std::string owner;
  UnixSeconds created = 0;
};

Result<std::optional<BucketRecord>> ReadBucket(S3Client& s3, const std::string& bucket) {
  ASSIGN_OR_RETURN(S3Answer a, Get(s3, BucketRecordKey(bucket)));
  if (a.status == 404) return std::optional<BucketRecord>();
  if (!a.ok()) return a.Error("GET bucket " + bucket);
  ASSIGN_OR_RETURN(nlohmann::json j, ParseJson(a.body, "bucket " + bucket));
  try {
    return std::optional<BucketRecord>(
        BucketRecord{j.at("owner").get<std::string>(), j.at("created").get<int64_t>()});
  } catch (const nlohmann::json::exception& e) {
    return DataLoss("bucket " + bucket + " does not parse: " + e.what());
  }
}

// The bucket, when it is `account_id`'s (NoSuchBucket otherwise).
Result<BucketRecord> OwnBucket(S3Client& s3, const std::string& account_id, const std::string& bucket) {
  if (!ObjectStore::ValidateBucketName(bucket).ok()) return BucketNotFound(bucket);
  ASSIGN_OR_RETURN(std::optional<BucketRecord> r, ReadBucket(s3, bucket));
  if (!r || r->owner != account_id) return BucketNotFound(bucket);
  return *r;
}

// A HEAD the gateway refused for the key's length (an answer without a
// body: 400 or 405 for a key past 1024 bytes): no such object can exist.
bool TooLong(const S3Client& s3, const S3Answer& a, const std::string& s3_key) {
  return (a.status == 400 || a.status == 405) && s3.location().prefix.size() + s3_key.size() > kMaxS3KeyBytes;
}

// The S3 key of an object.
Result<std::string> ObjectKey(const S3Client&, const std::string& bucket, const std::string& key) {
  RETURN_IF_ERROR(ObjectStore::ValidateKey(key));
  return ObjectPrefix(bucket) + key;
}

}  // namespace

Status S3ObjectStore::CreateBucket(const std::string& account_id, const std::string& bucket) {
  RETURN_IF_ERROR(ValidateBucketName(bucket));
  S3Client& s3 = *shared_->s3;
  const std::string record = nlohmann::json{{"owner", account_id}, {"created", shared_->clock.Now()}}.dump();
  S3Request r;
  r.method = "PUT";
  r.key = BucketRecordKey(bucket);
  r.body = AsBytes(record);
  r.headers = {{"if-none-match", "*"}};
  ASSIGN_OR_RETURN(S3Answer a, s3.Call(r));
  if (a.status == 412) {
    ASSIGN_OR_RETURN(std::optional<BucketRecord> existing, ReadBucket(s3, bucket));
    if (!existing || existing->owner != account_id) {
      return AlreadyExists(oss_error::kBucketAlreadyExists,
                           "The requested bucket name is not available. Please select a different name.");
    }
  } else if (!a.ok()) {
    return a.Error("create bucket " + bucket);
  }
  // The account's index (again, when a crash left it out the first time).
  return Put(s3, AccountIndexPrefix(account_id) + bucket, "");
}

Status S3ObjectStore::DeleteBucket(const std::string& account_id, const std::string& bucket) {
  S3Client& s3 = *shared_->s3;
  RETURN_IF_ERROR(OwnBucket(s3, account_id, bucket).status());
  for (const std::string& prefix : {ObjectPrefix(bucket), UploadPrefix(bucket)}) {
    ASSIGN_OR_RETURN(ListPage page, ListOnce(s3, prefix, "", "", "", 1));
    if (!page.items.empty()) {
      return FailedPrecondition(
          oss_error::kBucketNotEmpty,
          "The bucket you tried to delete is not empty (objects or multipart uploads).");
    }
  }
  // What the objects left: metadata sidecars, parts, marks and claims.
  RETURN_IF_ERROR(DeleteAll(s3, "oss/m/" + bucket + "/"));
  RETURN_IF_ERROR(DeleteAll(s3, "oss/p/" + bucket + "/"));
  RETURN_IF_ERROR(DeleteAll(s3, "oss/k/" + bucket + "/"));
  RETURN_IF_ERROR(DeleteAll(s3, "oss/d/" + bucket + "/"));
  RETURN_IF_ERROR(DeleteAll(s3, "oss/s/" + bucket + "/"));
  RETURN_IF_ERROR(DeleteAll(s3, "oss/c/" + bucket + "/"));
  RETURN_IF_ERROR(Delete(s3, AccountIndexPrefix(account_id) + bucket));
  return Delete(s3, BucketRecordKey(bucket));
}

Result<BucketInfo> S3ObjectStore::GetBucket(const std::string& account_id, const std::string& bucket) const {
  ASSIGN_OR_RETURN(BucketRecord r, OwnBucket(*shared_->s3, account_id, bucket));
  return BucketInfo{bucket, r.owner, r.created};
}

Result<ListBucketsResult> S3ObjectStore::ListBuckets(const std::string& account_id,
                                                     const ListBucketsRequest& request) const {
  if (request.max_keys < 1 || request.max_keys > kMaxListKeys) {
    return InvalidArgument(oss_error::kInvalidArgument, "max-keys must be 1-1000.");
  }
  S3Client& s3 = *shared_->s3;
  const std::string index = AccountIndexPrefix(account_id);
  const std::string start = request.marker.empty() ? "" : index + request.marker;
  ListBucketsResult out;
  std::string token;
  for (int i = 0; i < kMaxListPages; ++i) {
    ASSIGN_OR_RETURN(ListPage page,
                     ListOnce(s3, index + request.prefix, "", start, token, request.max_keys + 1));
    for (const ListPage::Item& item : page.items) {
      const std::string name = item.key.substr(index.size());
      if (name <= request.marker) continue;
      if (out.buckets.size() == request.max_keys) {
        out.truncated = true;
        out.next_marker = out.buckets.back().name;
        return out;
      }
      ASSIGN_OR_RETURN(std::optional<BucketRecord> r, ReadBucket(s3, name));
      if (!r || r->owner != account_id) continue;  // an index left by a deletion that stopped
      out.buckets.push_back({name, r->owner, r->created});
    }
    if (!page.truncated) return out;
    token = page.next_token;
  }
  return DataLoss("S3: listing buckets: too many pages");
}

Result<std::unique_ptr<ObjectPutWriter>> S3ObjectStore::PutObject(const std::string& account_id,
                                                                  const std::string& bucket,
                                                                  const std::string& key,
                                                                  const PutOptions& options) {
  RETURN_IF_ERROR(ValidateKey(key));
  RETURN_IF_ERROR(ValidatePutOptions(options));
  S3Client& s3 = *shared_->s3;
  RETURN_IF_ERROR(OwnBucket(s3, account_id, bucket).status());
  ASSIGN_OR_RETURN(std::string s3_key, ObjectKey(s3, bucket, key));
  ASSIGN_OR_RETURN(UniqueFd fd, NewSpoolFile(shared_->spool_dir));
  auto spool = std::make_unique<Spool>(std::move(fd), std::min(options.max_bytes, kMaxObjectBytes),
                                       "size of object " + Echo(key));
  return std::unique_ptr<ObjectPutWriter>(
      new S3PutWriter(shared_, bucket, key, std::move(s3_key), options, std::move(spool)));
}

Result<ObjectInfo> S3ObjectStore::PutFile(const std::string& account_id, const std::string& bucket,
                                          const std::string& key, int fd, const PutOptions& options) {
  RETURN_IF_ERROR(ValidateKey(key));
  RETURN_IF_ERROR(ValidatePutOptions(options));
  S3Client& s3 = *shared_->s3;
  RETURN_IF_ERROR(OwnBucket(s3, account_id, bucket).status());
  ASSIGN_OR_RETURN(std::string s3_key, ObjectKey(s3, bucket, key));
  const std::string label = "the file for " + bucket + "/" + Echo(key);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return ErrnoStatus("stat", label, errno);
  if (!S_ISREG(st.st_mode))
    return InvalidArgument(oss_error::kInvalidArgument, label + " is not a regular file");
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  RETURN_IF_ERROR(
      CheckSize(size, std::min(options.max_bytes, kMaxObjectBytes), "size of object " + Echo(key)));
  ObjectInfo info;
  if (options.known_digests) {
    info.etag = options.known_digests->etag;
    info.crc64 = options.known_digests->crc64;
    info.type = ObjectType::kMultipart;
  } else if (options.expected_md5) {
    RETURN_IF_ERROR(HashWhole(fd, size, *options.expected_md5, label, info));
  } else {
    RETURN_IF_ERROR(HashInParts(fd, size, label, info));
  }
  info.key = key;
  info.size = size;
  info.content_type = options.content_type.empty() ? "application/octet-stream" : options.content_type;
  info.user_meta = options.user_meta;
  info.last_modified = shared_->clock.Now();
  if (size <= kS3PartBytes) {
    ASSIGN_OR_RETURN(std::string header, MetaHeader(s3, bucket, info));
    RETURN_IF_ERROR(Replacing(s3, bucket, s3_key, "", [&] {
      return UploadFile(s3, s3_key, fd, size, header, info.content_md5, info.type == ObjectType::kMultipart,
                        label);
    }));
    return info;
  }
  // A parted object: its holes are zero parts, which are never sent.
  const std::string id = NewUploadId();
  RETURN_IF_ERROR(NameParts(s3, bucket, id, key));
  const uint64_t part = ExportPartBytes(size);
  std::vector<ManifestPart> parts((size + part - 1) / part);
  Status sent = ParallelFor(parts.size(), kPartThreads, label, [&](size_t i) -> Status {
    ManifestPart& p = parts[i];
    const uint64_t offset = i * part;
    p.number = static_cast<uint32_t>(i + 1);
    p.size = std::min(part, size - offset);
    if (IsHole(fd, offset, p.size)) {
      p.zeros = true;
      p.md5 = Md5OfZeros(p.size);
      p.crc64 = Crc64ExtendZeros(0, p.size);
      return Status::Ok();
    }
    ASSIGN_OR_RETURN(const RangeDigests digests, DigestsOfRange(fd, offset, p.size, label));
    p.md5 = digests.md5;
    p.crc64 = digests.crc64;
    return PutFromFd(s3, PartKey(bucket, id, p.number), "", fd, offset, p.size, {}, p.md5,
                     label + " part " + std::to_string(p.number))
        .status();
  });
  if (sent.ok()) sent = PublishParted(s3, shared_->spool_dir, bucket, s3_key, info, id, parts, label);
  if (!sent.ok()) {
    (void)FreeParts(s3, bucket, id);
    return sent;
  }
  return info;
}

namespace {
Result<Described> HeadDescribed(S3Client& s3, const std::string& account_id, const std::string& bucket,
                                const std::string& key) {
  RETURN_IF_ERROR(OwnBucket(s3, account_id, bucket).status());
  ASSIGN_OR_RETURN(std::string s3_key, ObjectKey(s3, bucket, key));
  ASSIGN_OR_RETURN(S3Answer a, Head(s3, s3_key));
  if (a.status == 404 || TooLong(s3, a, s3_key)) return KeyNotFound(bucket, key);
  if (!a.ok()) return a.Error("HEAD object " + bucket + "/" + Echo(key));
  return Describe(s3, a, bucket, key);
}
}  // namespace

Result<ObjectInfo> S3ObjectStore::HeadObject(const std::string& account_id, const std::string& bucket,
                                             const std::string& key) const {
  ASSIGN_OR_RETURN(Described d, HeadDescribed(*shared_->s3, account_id, bucket, key));
  return std::move(d.info);
}

Result<OpenObject> S3ObjectStore::OpenForRead(const std::string& account_id, const std::string& bucket,
                                              const std::string& key) const {
  return OpenRangeForRead(account_id, bucket, key, [](const ObjectInfo& info) -> Result<ByteRange> {
    return ByteRange{0, info.size};
  });
}

Result<OpenObject> S3ObjectStore::OpenRangeForRead(const std::string& account_id, const std::string& bucket,
                                                   const std::string& key, const RangePicker& pick) const {
  S3Client& s3 = *shared_->s3;
  RETURN_IF_ERROR(OwnBucket(s3, account_id, bucket).status());
  ASSIGN_OR_RETURN(std::string s3_key, ObjectKey(s3, bucket, key));
  const std::string label = "object " + bucket + "/" + Echo(key);
  // A put between the HEAD and the GET makes the GET fail (If-Match): read
  // again, a few times.
  for (int attempt = 0; attempt < 5; ++attempt) {
    ASSIGN_OR_RETURN(S3Answer head, Head(s3, s3_key));
    if (head.status == 404 || TooLong(s3, head, s3_key)) return KeyNotFound(bucket, key);
    if (!head.ok()) return head.Error("HEAD " + label);
    ASSIGN_OR_RETURN(Described d, Describe(s3, head, bucket, key));
    ObjectInfo& info = d.info;
    ASSIGN_OR_RETURN(const ByteRange range, pick(info));
    if (range.offset > info.size || range.length > info.size - range.offset) {
      return Internal("a range past the end of " + label);
    }
    const bool whole = range.offset == 0 && range.length == info.size;
    ASSIGN_OR_RETURN(UniqueFd fd, NewSpoolFile(shared_->spool_dir));
    if (::ftruncate(fd.get(), static_cast<off_t>(info.size)) != 0) return ErrnoStatus("size", label, errno);
    if (range.length == 0) return OpenObject{std::move(fd), std::move(info)};
    if (d.parted) {
      const std::shared_ptr<PartChunks> chunks = shared_->Chunks();
      ASSIGN_OR_RETURN(const bool read,
                       ReadParted(s3, chunks.get(), bucket, s3_key, head, d, range, fd.get(), label));
      if (!read) continue;
      return OpenObject{std::move(fd), std::move(info)};
    }
    uint64_t crc = 0;
    Status sink_error;
    S3Request r;
    r.method = "GET";
    r.key = s3_key;
    r.headers = {{"if-match", head.etag}};
    if (!whole) {
      r.headers.emplace_back("range", "bytes=" + std::to_string(range.offset) + "-" +
                                          std::to_string(range.offset + range.length - 1));
    }
    r.max_bytes = range.length;
    r.sink = [&](uint64_t offset, std::span<const uint8_t> bytes) {
      if (offset == 0) crc = 0;  // a retry starts again
      crc = Crc64Update(crc, bytes);
      sink_error = WriteKeepingHoles(fd.get(), range.offset + offset, bytes, label);
      return sink_error.ok();
    };
    ASSIGN_OR_RETURN(S3Answer a, s3.Call(r));
    RETURN_IF_ERROR(sink_error);
    if (a.status == 412) continue;
    if (a.status == 404) return KeyNotFound(bucket, key);
    if (!a.ok()) return a.Error("GET " + label);
    if (a.sunk != range.length || (!whole && a.status != 206)) {
      return DataLoss("S3: GET " + label + ": " + std::to_string(a.sunk) + " bytes of " +
                      std::to_string(range.length) + " (HTTP " + std::to_string(a.status) + ")");
    }
    // The whole object is checked against its CRC-64; a range has none of
    // its own (the If-Match holds it to the object described).
    if (whole && info.crc64 && *info.crc64 != crc) {
      return DataLoss("S3: GET " + label + ": the bytes fail their CRC-64");
    }
    return OpenObject{std::move(fd), std::move(info)};
  }
  return Unavailable("S3: " + label + " kept changing while it was read");
}

Result<uint64_t> S3ObjectStore::ObjectStoredBytes(const std::string& account_id, const std::string& bucket,
                                                  const std::string& key) const {
  ASSIGN_OR_RETURN(Described d, HeadDescribed(*shared_->s3, account_id, bucket, key));
  return d.parted ? d.parted->data_bytes : d.info.size;  // S3 keeps no holes; zero parts take none
}

Result<ListObjectsResult> S3ObjectStore::ListObjects(const std::string& account_id, const std::string& bucket,
                                                     const ListObjectsRequest& request) const {
  if (request.max_keys < 1 || request.max_keys > kMaxListKeys) {
    return InvalidArgument(oss_error::kInvalidArgument, "max-keys must be 1-1000.");
  }
  S3Client& s3 = *shared_->s3;
  RETURN_IF_ERROR(OwnBucket(s3, account_id, bucket).status());
  const std::string base = ObjectPrefix(bucket);
  ListObjectsResult out;
  uint32_t count = 0;
  std::string token;
  const std::string start = request.marker.empty() ? "" : base + request.marker;
  for (int i = 0; i < kMaxListPages; ++i) {
    ASSIGN_OR_RETURN(ListPage page, ListOnce(s3, base + request.prefix, request.delimiter, start, token,
                                             std::min<uint32_t>(kMaxListKeys, request.max_keys + 1)));
    for (ListPage::Item& item : page.items) {
      std::string name = item.key.substr(base.size());
      if (name <= request.marker) continue;  // the marker's own common prefix, too
      if (count == request.max_keys) {
        out.truncated = true;
        return out;
      }
      ++count;
      out.next_marker = name;
      if (item.prefix) {
        out.common_prefixes.push_back(std::move(name));
        continue;
      }
      ObjectInfo info;
      if (item.etag.find('-') == std::string::npos) {
        // One PUT: the store's ETag is the MD5, which is the object's.
        info.key = name;
        info.size = item.size;
        info.etag = "\"" + NormalizeEtag(item.etag) + "\"";
        info.last_modified = item.last_modified;
      } else {
        Result<ObjectInfo> head = HeadObject(account_id, bucket, name);
        if (head.status().reason() == oss_error::kNoSuchKey) continue;  // deleted meanwhile
        RETURN_IF_ERROR(head.status());
        info = std::move(*head);
        info.crc64.reset();
      }
      out.contents.push_back(std::move(info));
    }
    if (!page.truncated) {
      out.next_marker.clear();
      return out;
    }
    token = page.next_token;
  }
  return DataLoss("S3: listing " + bucket + ": too many pages");
}

Status S3ObjectStore::DeleteObject(const std::string& account_id, const std::string& bucket,
                                   const std::string& key) {
  S3Client& s3 = *shared_->s3;
  RETURN_IF_ERROR(OwnBucket(s3, account_id, bucket).status());
  ASSIGN_OR_RETURN(std::string s3_key, ObjectKey(s3, bucket, key));
  RETURN_IF_ERROR(RemoveObject(s3, bucket, s3_key));
  RETURN_IF_ERROR(Delete(s3, MarkKey(bucket, key)));
  return DeleteAll(s3, ClaimPrefix(bucket, key));
}

// ------------------------------------------------------------- multipart

Result<std::string> S3ObjectStore::InitiateMultipart(const std::string& account_id, const std::string& bucket,
                                                     const std::string& key, const PutOptions& options) {
  RETURN_IF_ERROR(ValidatePutOptions(options));
  S3Client& s3 = *shared_->s3;
  RETURN_IF_ERROR(OwnBucket(s3, account_id, bucket).status());
  RETURN_IF_ERROR(ObjectKey(s3, bucket, key).status());
  const std::string upload_id = NewUploadId();
  const nlohmann::json record = {{"v", kMetaVersion},
                                 {"key", key},
                                 {"initiated", shared_->clock.Now()},
                                 {"ct", options.content_type},
                                 {"meta", UserMetaJson(options.user_meta)}};
  RETURN_IF_ERROR(Put(s3, UploadPrefix(bucket) + upload_id, record.dump()));
  return upload_id;
}

namespace {
Status CheckPartNumber(uint32_t n) {
  if (n < 1 || n > ObjectStore::kMaxPartNumber) {
    return InvalidArgument(oss_error::kInvalidArgument,
                           "The part number " + std::to_string(n) + " is not in 1-" +
                               std::to_string(ObjectStore::kMaxPartNumber) + ".");
  }
  return Status::Ok();
}
}  // namespace

Result<std::unique_ptr<PartWriter>> S3ObjectStore::UploadPart(
    const std::string& account_id, const std::string& bucket, const std::string& key,
    const std::string& upload_id, uint32_t part_number, std::optional<Md5Digest> expected_md5,
    std::optional<uint64_t> size) {
  RETURN_IF_ERROR(ValidateKey(key));
  RETURN_IF_ERROR(CheckPartNumber(part_number));
  if (size) RETURN_IF_ERROR(CheckSize(*size, kMaxPutBytes, "size of part " + std::to_string(part_number)));
  S3Client& s3 = *shared_->s3;
  RETURN_IF_ERROR(OwnBucket(s3, account_id, bucket).status());
  ASSIGN_OR_RETURN(UploadRecord record, ReadUploadRecord(s3, bucket, upload_id));
  if (record.key != key) return UploadNotFound(upload_id);
  const std::string what = "size of part " + std::to_string(part_number);
  std::unique_ptr<Spool> spool;
  const std::shared_ptr<PartChunks> chunks = shared_->Chunks();
  if (chunks && size && *size <= chunks->max_part_bytes()) {
    spool = std::make_unique<Spool>(shared_->part_buffers, *size, what);  // a chunk: whole in memory
  } else {
    ASSIGN_OR_RETURN(UniqueFd fd, NewSpoolFile(shared_->spool_dir));
    spool = std::make_unique<Spool>(std::move(fd), size.value_or(kMaxPutBytes), what);
  }
  return std::unique_ptr<PartWriter>(new S3PartWriter(shared_, account_id, bucket, upload_id, part_number,
                                                      expected_md5, size, std::move(spool)));
}

Result<PartInfo> S3ObjectStore::UploadZeroPart(const std::string& account_id, const std::string& bucket,
                                               const std::string& key, const std::string& upload_id,
                                               uint32_t part_number, uint64_t size,
                                               std::optional<Md5Digest> expected_md5) {
  RETURN_IF_ERROR(ValidateKey(key));
  RETURN_IF_ERROR(CheckPartNumber(part_number));
  if (size == 0) return InvalidArgument(oss_error::kInvalidArgument, "A zero part holds at least one byte.");
  RETURN_IF_ERROR(CheckSize(size, kMaxPutBytes, "size of part " + std::to_string(part_number)));
  S3Client& s3 = *shared_->s3;
  RETURN_IF_ERROR(OwnBucket(s3, account_id, bucket).status());
  ASSIGN_OR_RETURN(UploadRecord record, ReadUploadRecord(s3, bucket, upload_id));
  if (record.key != key) return UploadNotFound(upload_id);
  StoredPart p;
  p.md5 = Md5OfZeros(size);
  if (expected_md5 && *expected_md5 != p.md5) {
    return InvalidArgument(oss_error::kInvalidDigest, "The Content-MD5 you specified (" +
                                                          ToHex(*expected_md5) + ") is not that of " +
                                                          std::to_string(size) + " zero bytes.");
  }
  p.zeros = true;
  p.info.part_number = part_number;
  p.info.size = size;
  p.info.etag = QuotedMd5Etag(p.md5);
  p.info.crc64 = Crc64ExtendZeros(0, size);
  p.info.last_modified = shared_->clock.Now();
  RETURN_IF_ERROR(Put(s3, PartKey(bucket, upload_id, part_number), "",
                      {{"x-amz-meta-ferry", EncodeHeaderJson(PartJson(p))}}));
  return p.info;
}

Result<ListPartsResult> S3ObjectStore::ListParts(const std::string& account_id, const std::string& bucket,
                                                 const std::string& key, const std::string& upload_id,
                                                 const ListPartsRequest& request) const {
  if (request.max_parts < 1 || request.max_parts > kMaxListKeys) {
    return InvalidArgument(oss_error::kInvalidArgument, "max-parts must be 1-1000.");
  }
  S3Client& s3 = *shared_->s3;
  RETURN_IF_ERROR(OwnBucket(s3, account_id, bucket).status());
  ASSIGN_OR_RETURN(UploadRecord record, ReadUploadRecord(s3, bucket, upload_id));
  if (record.key != key) return UploadNotFound(upload_id);
  char marker[8];
  std::snprintf(marker, sizeof(marker), "%05u", request.part_number_marker);
  const std::string prefix = PartPrefix(bucket, upload_id);
  ASSIGN_OR_RETURN(ListPage page, ListOnce(s3, prefix, "", prefix + marker, "", request.max_parts + 1));
  ListPartsResult out;
  for (const ListPage::Item& item : page.items) {
    const std::string name = item.key.substr(prefix.size());
    if (name.size() != 5 || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const auto n = static_cast<uint32_t>(std::stoul(name));
    if (n <= request.part_number_marker) continue;
    if (out.parts.size() == request.max_parts) {
      out.truncated = true;
      break;
    }
    ASSIGN_OR_RETURN(std::optional<StoredPart> part, ReadPart(s3, bucket, upload_id, n));
    if (!part) continue;
    out.parts.push_back(part->info);
    out.next_part_number_marker = n;
  }
  return out;
}

Result<ListUploadsResult> S3ObjectStore::ListUploads(const std::string& account_id, const std::string& bucket,
                                                     const ListUploadsRequest& request) const {
  if (request.max_uploads < 1 || request.max_uploads > kMaxListKeys) {
    return InvalidArgument(oss_error::kInvalidArgument, "max-uploads must be 1-1000.");
  }
  S3Client& s3 = *shared_->s3;
  RETURN_IF_ERROR(OwnBucket(s3, account_id, bucket).status());
  std::vector<std::string> ids;
  const std::string prefix = UploadPrefix(bucket);
  RETURN_IF_ERROR(
      ListAll(s3, prefix, [&](const ListPage::Item& i) { ids.push_back(i.key.substr(prefix.size())); }));
  std::vector<MultipartUpload> all;
  for (const std::string& id : ids) {
    Result<UploadRecord> r = ReadUploadRecord(s3, bucket, id);
    if (r.status().reason() == oss_error::kNoSuchUpload) continue;  // done meanwhile
    RETURN_IF_ERROR(r.status());
    all.push_back({r->key, id, r->initiated});
  }
  return PageOfUploads(std::move(all), request);
}

Result<ObjectInfo> S3ObjectStore::CompleteMultipart(const std::string& account_id, const std::string& bucket,
                                                    const std::string& key, const std::string& upload_id,
                                                    const std::vector<CompletePart>& parts) {
  S3Client& s3 = *shared_->s3;
  RETURN_IF_ERROR(OwnBucket(s3, account_id, bucket).status());
  ASSIGN_OR_RETURN(std::string s3_key, ObjectKey(s3, bucket, key));
  ASSIGN_OR_RETURN(UploadRecord record, ReadUploadRecord(s3, bucket, upload_id));
  if (record.key != key) return UploadNotFound(upload_id);
  if (parts.empty()) {
    return InvalidArgument(oss_error::kInvalidArgument, "CompleteMultipartUpload needs at least one part.");
  }
  for (size_t i = 1; i < parts.size(); ++i) {
    if (parts[i].part_number <= parts[i - 1].part_number) {
      return InvalidArgument(oss_error::kInvalidPartOrder,
                             "The parts must be listed in ascending order without repeats: part " +
                                 std::to_string(parts[i].part_number) + " follows part " +
                                 std::to_string(parts[i - 1].part_number) + ".");
    }
  }
  std::vector<StoredPart> stored;
  std::vector<Md5Digest> md5s;
  uint64_t total = 0, crc = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const CompletePart& p = parts[i];
    std::optional<StoredPart> part;
    if (p.part_number >= 1 && p.part_number <= kMaxPartNumber) {
      ASSIGN_OR_RETURN(part, ReadPart(s3, bucket, upload_id, p.part_number));
    }
    if (!part || NormalizeEtag(part->info.etag) != NormalizeEtag(p.etag)) {
      return InvalidArgument(oss_error::kInvalidPart,
                             "Part " + std::to_string(p.part_number) + " with ETag " + Echo(p.etag) +
                                 (part ? " does not match the stored part (ETag " + part->info.etag + ")."
                                       : " was not uploaded."));
    }
    if (i + 1 < parts.size() && part->info.size < kMinPartBytes) {
      return InvalidArgument(
          oss_error::kEntityTooSmall,
          "Part " + std::to_string(p.part_number) + " holds " + std::to_string(part->info.size) +
              " bytes; every part but the last must hold at least " + std::to_string(kMinPartBytes) + ".");
    }
    total += part->info.size;
    crc = Crc64Combine(crc, part->info.crc64, part->info.size);
    md5s.push_back(part->md5);
    stored.push_back(*part);
  }
  RETURN_IF_ERROR(CheckSize(total, kMaxObjectBytes, "size of the completed object"));
  ObjectInfo info;
  info.key = key;
  info.size = total;
  info.etag = MultipartEtag(md5s);
  info.crc64 = crc;
  info.content_type = record.content_type.empty() ? "application/octet-stream" : record.content_type;
  info.user_meta = record.meta;
  info.last_modified = shared_->clock.Now();
  info.type = ObjectType::kMultipart;
  const std::string label = "object " + bucket + "/" + Echo(key);
  // The parts stay where they are: the object is their list.
  std::vector<ManifestPart> manifest;
  for (const StoredPart& p : stored) {
    manifest.push_back({p.info.part_number, p.info.size, p.md5, p.info.crc64, p.zeros, p.chunk});
  }
  RETURN_IF_ERROR(NameParts(s3, bucket, upload_id, key));
  RETURN_IF_ERROR(PublishParted(s3, shared_->spool_dir, bucket, s3_key, info, upload_id, manifest, label));
  // The upload is done: its record goes, and the parts it uploaded but did
  // not list (a failure here leaves them to go with the object).
  (void)Delete(s3, UploadPrefix(bucket) + upload_id);
  const std::string prefix = PartPrefix(bucket, upload_id);
  std::set<std::string> listed;
  for (const ManifestPart& p : manifest) listed.insert(PartKey(bucket, upload_id, p.number));
  std::vector<std::string> unlisted;
  (void)ListAll(s3, prefix, [&](const ListPage::Item& i) {
    if (!listed.contains(i.key)) unlisted.push_back(i.key);
  });
  for (const std::string& k : unlisted) (void)Delete(s3, k);
  return info;
}

Status S3ObjectStore::AbortMultipart(const std::string& account_id, const std::string& bucket,
                                     const std::string& key, const std::string& upload_id) {
  RETURN_IF_ERROR(ValidateKey(key));
  S3Client& s3 = *shared_->s3;
  RETURN_IF_ERROR(OwnBucket(s3, account_id, bucket).status());
  ASSIGN_OR_RETURN(UploadRecord record, ReadUploadRecord(s3, bucket, upload_id));
  if (record.key != key) return UploadNotFound(upload_id);
  RETURN_IF_ERROR(DeleteAll(s3, PartPrefix(bucket, upload_id)));
  RETURN_IF_ERROR(DeleteAll(s3, RootPrefix(bucket, upload_id)));
  return Delete(s3, UploadPrefix(bucket) + upload_id);
}

// ---------------------------------------------------------------- staging
//
// A mark is an object, each claim another: the store offers no
// compare-and-swap (s3_object_store.md), so a claim is written first and
// the mark read after it, and the last release takes the mark away and
// then looks for claims once more. A claimer that saw the mark has its
// claim there by then, so the object stays (the mark is put back); one
// that did not see it does not count on the object staying.

Status S3ObjectStore::SetStaging(const std::string& account_id, const std::string& bucket,
                                 const std::string& key, bool staging) {
  ASSIGN_OR_RETURN(ObjectInfo info, HeadObject(account_id, bucket, key));
  S3Client& s3 = *shared_->s3;
  if (!staging) {
    RETURN_IF_ERROR(Delete(s3, MarkKey(bucket, key)));
    return DeleteAll(s3, ClaimPrefix(bucket, key));
  }
  return Put(s3, MarkKey(bucket, key), nlohmann::json{{"key", key}, {"marked", shared_->clock.Now()}}.dump());
}

Status S3ObjectStore::ClaimStaging(const std::string& account_id, const std::string& bucket,
                                   const std::string& key, const std::string& task_id) {
  if (!ValidTaskId(task_id)) return InvalidArgument("", "bad task id '" + Echo(task_id) + "'");
  S3Client& s3 = *shared_->s3;
  RETURN_IF_ERROR(OwnBucket(s3, account_id, bucket).status());
  RETURN_IF_ERROR(ObjectKey(s3, bucket, key).status());
  const std::string claim = ClaimPrefix(bucket, key) + task_id;
  RETURN_IF_ERROR(Put(s3, claim, key));
  ASSIGN_OR_RETURN(S3Answer mark, Head(s3, MarkKey(bucket, key)));
  if (mark.status == 404) return Delete(s3, claim);  // not staging: no claim
  if (!mark.ok()) return mark.Error("HEAD a staging mark");
  return Status::Ok();
}

bool S3ObjectStore::IsStaging(const std::string& bucket, const std::string& key) const {
  Result<S3Answer> mark = Head(*shared_->s3, MarkKey(bucket, key));
  return mark.ok() && mark->ok();
}

Status S3ObjectStore::ReleaseStaging(const std::string& bucket, const std::string& key,
                                     const std::string& task_id) {
  if (!ValidTaskId(task_id)) return Status::Ok();
  S3Client& s3 = *shared_->s3;
  const std::string claims = ClaimPrefix(bucket, key);
  ASSIGN_OR_RETURN(S3Answer mine, Head(s3, claims + task_id));
  if (mine.status == 404) return Status::Ok();
  if (!mine.ok()) return mine.Error("HEAD a staging claim");
  RETURN_IF_ERROR(Delete(s3, claims + task_id));
  auto any_claim = [&]() -> Result<bool> {
    ASSIGN_OR_RETURN(ListPage page, ListOnce(s3, claims, "", "", "", 1));
    return !page.items.empty();
  };
  ASSIGN_OR_RETURN(bool others, any_claim());
  if (others) return Status::Ok();
  ASSIGN_OR_RETURN(S3Answer mark, Get(s3, MarkKey(bucket, key)));
  if (mark.status == 404) return Status::Ok();
  if (!mark.ok()) return mark.Error("GET a staging mark");
  const std::string body(mark.body.begin(), mark.body.end());
  RETURN_IF_ERROR(Delete(s3, MarkKey(bucket, key)));
  ASSIGN_OR_RETURN(others, any_claim());
  if (others) return Put(s3, MarkKey(bucket, key), body);  // claimed meanwhile: it stays
  ASSIGN_OR_RETURN(std::string s3_key, ObjectKey(s3, bucket, key));
  return RemoveObject(s3, bucket, s3_key);
}

std::vector<StagingClaim> S3ObjectStore::ListStagingClaims() const {
  S3Client& s3 = *shared_->s3;
  std::vector<std::string> keys;
  std::vector<StagingClaim> out;
  if (!ListAll(s3, "oss/c/", [&](const ListPage::Item& i) { keys.push_back(i.key); }).ok()) return out;
  for (const std::string& k : keys) {
    // oss/c/<bucket>/<hash>/<task>
    const size_t b = 6, h = k.find('/', b), t = h == std::string::npos ? h : k.find('/', h + 1);
    if (t == std::string::npos) continue;
    Result<S3Answer> a = Get(s3, k, 4096);
    if (!a.ok() || !a->ok()) continue;
    out.push_back({k.substr(b, h - b), std::string(a->body.begin(), a->body.end()), k.substr(t + 1)});
  }
  return out;
}

// ------------------------------------------------------- giving it back

SweepStats S3ObjectStore::SweepExpired(UnixSeconds now, int64_t max_age_seconds) {
  S3Client& s3 = *shared_->s3;
  SweepStats stats;
  // Uploads untouched for max_age: the record's initiation and the parts'
  // times, whichever is newest.
  std::vector<std::pair<std::string, int64_t>> uploads;  // bucket/id key, newest
  (void)ListAll(s3, "oss/u/", [&](const ListPage::Item& i) { uploads.emplace_back(i.key, i.last_modified); });
  for (const auto& [record_key, listed] : uploads) {
    int64_t newest = listed;
    const std::string rest = record_key.substr(6);  // <bucket>/<id>
    const size_t slash = rest.find('/');
    if (slash == std::string::npos) continue;
    const std::string bucket = rest.substr(0, slash), id = rest.substr(slash + 1);
    Result<UploadRecord> r = ReadUploadRecord(s3, bucket, id);
    if (r.ok()) newest = std::max<int64_t>(newest, r->initiated);
    uint64_t bytes = 0;
    (void)ListAll(s3, PartPrefix(bucket, id), [&](const ListPage::Item& i) {
      newest = std::max(newest, i.last_modified);
      bytes += i.size;
    });
    (void)ListAll(s3, RootPrefix(bucket, id), [&](const ListPage::Item& i) {
      Digest256 chunk{};
      uint64_t size = 0;
      if (ParseRootKey(i.key, &chunk, &size)) bytes += size;
    });
    if (newest + max_age_seconds > now) continue;
    if (DeleteAll(s3, PartPrefix(bucket, id)).ok() && DeleteAll(s3, RootPrefix(bucket, id)).ok() &&
        Delete(s3, record_key).ok()) {
      stats.uploads_removed++;
      stats.bytes_freed += bytes;
    }
  }
  // Parts that no object names any more (a writer that crashed between its
  // parts and its manifest, two writers that replaced one object at once),
  // named that long ago and not of an upload still open.
  std::vector<std::pair<std::string, int64_t>> names;
  (void)ListAll(s3, "oss/d/", [&](const ListPage::Item& i) { names.emplace_back(i.key, i.last_modified); });
  for (const auto& [name_key, when] : names) {
    if (when + max_age_seconds > now) continue;
    const std::string rest = name_key.substr(6);  // <bucket>/<id>
    const size_t slash = rest.find('/');
    if (slash == std::string::npos) continue;
    const std::string bucket = rest.substr(0, slash), id = rest.substr(slash + 1);
    Result<S3Answer> open = Head(s3, UploadPrefix(bucket) + id);
    if (!open.ok() || open->status != 404) continue;  // still open (or not known now)
    Result<S3Answer> a = Get(s3, name_key);
    if (!a.ok() || !a->ok()) continue;
    Result<nlohmann::json> j = ParseJson(a->body, name_key);
    if (j.ok() && (*j).contains("key") && (*j)["key"].is_string()) {
      Result<std::string> s3_key = ObjectKey(s3, bucket, (*j)["key"].get<std::string>());
      if (s3_key.ok()) {
        Result<std::optional<std::string>> named = PartsIdAt(s3, *s3_key);
        if (!named.ok() || *named == id) continue;  // the object's own (or not known now)
      }
    }
    uint64_t bytes = 0;
    (void)ListAll(s3, PartPrefix(bucket, id), [&](const ListPage::Item& i) { bytes += i.size; });
    if (FreeParts(s3, bucket, id).ok()) {
      stats.uploads_removed++;
      stats.bytes_freed += bytes;
    }
  }
  // Staging objects marked that long ago and claimed by no one.
  std::vector<std::pair<std::string, int64_t>> marks;
  (void)ListAll(s3, "oss/s/", [&](const ListPage::Item& i) { marks.emplace_back(i.key, i.last_modified); });
  for (const auto& [mark_key, when] : marks) {
    if (when + max_age_seconds > now) continue;
    Result<S3Answer> a = Get(s3, mark_key);
    if (!a.ok() || !a->ok()) continue;
    Result<nlohmann::json> j = ParseJson(a->body, mark_key);
    if (!j.ok() || !(*j).contains("key") || !(*j)["key"].is_string()) continue;
    const std::string key = (*j)["key"].get<std::string>();
    const std::string bucket = mark_key.substr(6, mark_key.find('/', 6) - 6);
    Result<ListPage> claims = ListOnce(s3, ClaimPrefix(bucket, key), "", "", "", 1);
    if (!claims.ok() || !claims->items.empty()) continue;
    Result<std::string> s3_key = ObjectKey(s3, bucket, key);
    if (!s3_key.ok()) continue;
    Result<S3Answer> head = Head(s3, *s3_key);
    if (RemoveObject(s3, bucket, *s3_key).ok() && Delete(s3, mark_key).ok()) {
      stats.staging_removed++;
      if (head.ok() && head->content_length) stats.bytes_freed += *head->content_length;
    }
  }
  return stats;
}

// ------------------------------------------------------- parts as chunks

void S3ObjectStore::SetPartChunks(std::shared_ptr<PartChunks> chunks) {
  std::lock_guard<std::mutex> lock(shared_->chunks_mu);
  shared_->chunks = std::move(chunks);
}

Status S3ObjectStore::ForEachChunkRoot(const std::function<void(const Digest256&)>& fn) const {
  return ListAll(*shared_->s3, "oss/k/", [&](const ListPage::Item& i) {
    Digest256 chunk{};
    uint64_t size = 0;
    if (ParseRootKey(i.key, &chunk, &size)) fn(chunk);
  });
}

Result<std::optional<ObjectChunkLayout>> S3ObjectStore::ChunkLayout(const std::string& account_id,
                                                                    const std::string& bucket,
                                                                    const std::string& key) const {
  S3Client& s3 = *shared_->s3;
  RETURN_IF_ERROR(OwnBucket(s3, account_id, bucket).status());
  ASSIGN_OR_RETURN(std::string s3_key, ObjectKey(s3, bucket, key));
  const std::string label = "object " + bucket + "/" + Echo(key);
  ASSIGN_OR_RETURN(S3Answer head, Head(s3, s3_key));
  if (head.status == 404 || TooLong(s3, head, s3_key)) return KeyNotFound(bucket, key);
  if (!head.ok()) return head.Error("HEAD " + label);
  ASSIGN_OR_RETURN(Described d, Describe(s3, head, bucket, key));
  if (!d.parted) return std::optional<ObjectChunkLayout>();
  ASSIGN_OR_RETURN(const std::optional<std::vector<ManifestPart>> parts,
                   ReadManifest(s3, s3_key, head, d, label));
  if (!parts) return Unavailable("S3: " + label + " changed while it was read");
  ObjectChunkLayout layout;
  layout.info = std::move(d.info);
  for (const ManifestPart& p : *parts) layout.parts.push_back({p.size, p.zeros, p.chunk});
  return std::optional<ObjectChunkLayout>(std::move(layout));
}

Result<uint64_t> S3ObjectStore::AccountObjectBytes(const std::string& account_id) const {
  S3Client& s3 = *shared_->s3;
  std::vector<std::string> buckets;
  const std::string index = AccountIndexPrefix(account_id);
  RETURN_IF_ERROR(
      ListAll(s3, index, [&](const ListPage::Item& i) { buckets.push_back(i.key.substr(index.size())); }));
  uint64_t total = 0;
  for (const std::string& b : buckets) {
    ASSIGN_OR_RETURN(std::optional<BucketRecord> r, ReadBucket(s3, b));
    if (!r || r->owner != account_id) continue;
    for (const std::string& prefix : {ObjectPrefix(b), "oss/p/" + b + "/"}) {
      RETURN_IF_ERROR(ListAll(s3, prefix, [&](const ListPage::Item& i) { total += i.size; }));
    }
    // Parts kept as chunks: their roots name their sizes.
    RETURN_IF_ERROR(ListAll(s3, "oss/k/" + b + "/", [&](const ListPage::Item& i) {
      Digest256 chunk{};
      uint64_t size = 0;
      if (ParseRootKey(i.key, &chunk, &size)) total += size;
    }));
  }
  return total;
}

}  // namespace ferry
