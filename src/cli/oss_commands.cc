#include "cli/oss_commands.h"

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "cli/profile.h"
#include "cli/progress.h"
#include "cli/session.h"
#include "common/hash.h"
#include "common/http_url.h"

namespace ferry::cli {

std::string ResumeHint(const Status& failure) {
  switch (failure.code()) {
    case Code::kInvalidArgument:
    case Code::kNotFound:
    case Code::kAlreadyExists:
    case Code::kPermissionDenied:
    case Code::kUnauthenticated:
      return "";
    default:
      return " (run the same command again to resume)";
  }
}
namespace {

using json = nlohmann::json;

// Where `ferry oss cp` keeps the state of a transfer between runs.
std::string CheckpointFor(const std::string& src, const std::string& dst) {
  std::string dir = std::filesystem::path(ProfilesPath()).parent_path().string() + "/checkpoints";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  std::string src_abs = src.starts_with("oss://") ? src : std::filesystem::absolute(src, ec).string();
  std::string dst_abs = dst.starts_with("oss://") ? dst : std::filesystem::absolute(dst, ec).string();
  return dir + "/" + Sha256Hex(src_abs + "\n" + dst_abs).substr(0, 32) + ".json";
}

// "oss://b/p", "b/p" or "b" → bucket, prefix.
std::pair<std::string, std::string> SplitWhere(const std::string& where) {
  if (auto parsed = ParseOssUrl(where)) return *parsed;
  size_t slash = where.find('/');
  if (slash == std::string::npos) return {where, ""};
  return {where.substr(0, slash), where.substr(slash + 1)};
}

}  // namespace

Result<OssClient> Session::Oss(bool v4) const {
  std::string endpoint = oss_endpoint_;
  if (endpoint.empty()) {
    // `ferry serve` opens the OSS listener on the ECS listen port + 2.
    ASSIGN_OR_RETURN(HttpBaseUrl base, ParseHttpBaseUrl(endpoint_.find("://") == std::string::npos
                                                            ? "http://" + endpoint_
                                                            : endpoint_));
    const int port = std::atoi(base.port.c_str());
    const std::string host = base.host.find(':') != std::string::npos ? "[" + base.host + "]" : base.host;
    endpoint = "http://" + host + ":" + std::to_string(port + 2);
  }
  OssClientConfig config;
  config.endpoint = endpoint;
  config.access_key_id = access_key_id_;
  config.access_key_secret = access_key_secret_;
  config.v4 = v4;
  config.region = region_;
  return OssClient(config);
}

Status OssList(const ClientOptions& opts, const OssCommandOptions& oss, const std::string& where) {
  ASSIGN_OR_RETURN(Session session, Session::Open(opts));
  ASSIGN_OR_RETURN(OssClient client, session.Oss(oss.v4));
  json rows = json::array();
  if (where.empty() || where == "oss://") {
    ASSIGN_OR_RETURN(std::vector<std::string> buckets, client.ListBuckets());
    for (const std::string& bucket : buckets) rows.push_back({{"Bucket", "oss://" + bucket}});
    RETURN_IF_ERROR(Render(session, {{"Bucket", "Bucket"}}, rows));
    return Status::Ok();
  }
  const auto [bucket, prefix] = SplitWhere(where);
  ASSIGN_OR_RETURN(OssListing listing, client.ListObjects(bucket, prefix, oss.recursive ? "" : "/"));
  for (const std::string& p : listing.prefixes) {
    rows.push_back({{"Object", "oss://" + bucket + "/" + p}, {"Size", "DIR"}, {"LastModified", ""}, {"ETag", ""}});
  }
  for (const OssObjectSummary& object : listing.objects) {
    rows.push_back({{"Object", "oss://" + bucket + "/" + object.key},
                    {"Size", object.size},
                    {"LastModified", object.last_modified},
                    {"ETag", object.etag}});
  }
  RETURN_IF_ERROR(Render(
      session, {{"Object", "Object"}, {"Size", "Size"}, {"LastModified", "LastModified"}, {"ETag", "ETag"}},
      rows));
  return Status::Ok();
}

Status OssMakeBucket(const ClientOptions& opts, const OssCommandOptions& oss, const std::string& bucket_arg) {
  ASSIGN_OR_RETURN(Session session, Session::Open(opts));
  ASSIGN_OR_RETURN(OssClient client, session.Oss(oss.v4));
  const std::string bucket = SplitWhere(bucket_arg).first;
  RETURN_IF_ERROR(client.CreateBucket(bucket));
  RETURN_IF_ERROR(RenderRecord(session, {{"Bucket", "oss://" + bucket}, {"Created", true}}));
  return Status::Ok();
}

Status OssCopy(const ClientOptions& opts, const OssCommandOptions& oss, const std::string& src,
               const std::string& dst) {
  const auto from = ParseOssUrl(src);
  const auto to = ParseOssUrl(dst);
  if (from.has_value() == to.has_value()) {
    return Usage("cp copies between a local file and oss://BUCKET/KEY: exactly one side must be oss://");
  }
  if (oss.part_size_mib < 1 || oss.part_size_mib > 5120) return Usage("--part-size must be 1-5120 MiB");
  const uint64_t part_bytes = oss.part_size_mib << 20;
  ASSIGN_OR_RETURN(Session session, Session::Open(opts));
  ASSIGN_OR_RETURN(OssClient client, session.Oss(oss.v4));
  const std::string checkpoint = CheckpointFor(src, dst);
  if (to) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(src, ec)) return Usage("no such file: " + src);
    const uint64_t size = std::filesystem::file_size(src, ec);
    std::string key = to->second;
    if (key.empty() || key.ends_with("/")) key += std::filesystem::path(src).filename().string();
    ProgressBar bar("upload " + key, size);
    bar.set_disk_size(size);
    Status st = client.UploadFile(src, to->first, key, checkpoint,
                                  [&bar](uint64_t done, uint64_t total) { bar.Update(done, total); }, part_bytes);
    if (!st.ok()) return st.WithContext("uploading " + src + " to oss://" + to->first + "/" + key + ResumeHint(st));
    bar.Finish("uploaded");
    RETURN_IF_ERROR(RenderRecord(
        session, {{"Source", src}, {"Destination", "oss://" + to->first + "/" + key}, {"Size", size}}));
    return Status::Ok();
  }
  std::string path = dst;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec) || path.ends_with("/")) {
    path = (std::filesystem::path(path) / std::filesystem::path(from->second).filename()).string();
  }
  ASSIGN_OR_RETURN(OssHttpResponse head, client.HeadObject(from->first, from->second));
  const uint64_t size = std::strtoull(head.Header("content-length").c_str(), nullptr, 10);
  ProgressBar bar("download " + from->second, size);
  Status st = client.DownloadFile(from->first, from->second, path, checkpoint,
                                  [&bar](uint64_t done, uint64_t total) { bar.Update(done, total); }, part_bytes);
  if (!st.ok()) return st.WithContext("downloading " + src + ResumeHint(st));
  bar.Finish("downloaded");
  RETURN_IF_ERROR(RenderRecord(session, {{"Source", src}, {"Destination", path}, {"Size", size}}));
  return Status::Ok();
}

Status OssRemove(const ClientOptions& opts, const OssCommandOptions& oss, const std::string& first,
                 const std::string& second) {
  std::string bucket, key;
  if (second.empty()) {
    auto parsed = ParseOssUrl(first);
    if (!parsed || parsed->second.empty()) return Usage("rm takes oss://BUCKET/KEY (or BUCKET OBJECT)");
    bucket = parsed->first;
    key = parsed->second;
  } else {
    bucket = first;
    key = second;
  }
  ASSIGN_OR_RETURN(Session session, Session::Open(opts));
  ASSIGN_OR_RETURN(OssClient client, session.Oss(oss.v4));
  // OSS deletes a missing object without a word; the CLI says it was not there.
  RETURN_IF_ERROR(client.HeadObject(bucket, key).status());
  RETURN_IF_ERROR(client.DeleteObject(bucket, key));
  RETURN_IF_ERROR(RenderRecord(session, {{"Bucket", bucket}, {"Object", key}, {"Deleted", true}}));
  return Status::Ok();
}

Status OssPresign(const ClientOptions& opts, const OssCommandOptions& oss, const std::string& url) {
  auto parsed = ParseOssUrl(url);
  if (!parsed || parsed->second.empty()) return Usage("presign takes oss://BUCKET/KEY");
  ASSIGN_OR_RETURN(Session session, Session::Open(opts));
  ASSIGN_OR_RETURN(OssClient client, session.Oss(oss.v4));
  Result<std::string> signed_url = client.PresignGet(parsed->first, parsed->second, oss.expires);
  if (!signed_url.ok()) return Usage(signed_url.status().message());
  if (session.output() == OutputFormat::kJson) {
    RETURN_IF_ERROR(RenderRecord(session, {{"Url", *signed_url}, {"ExpiresInSeconds", oss.expires}}));
  } else {
    std::cout << *signed_url << std::endl;
  }
  return Status::Ok();
}

Status UploadForImport(const ClientOptions& opts, const std::string& file, const std::string& bucket,
                       const std::string& object, bool staging) {
  ASSIGN_OR_RETURN(Session session, Session::Open(opts));
  ASSIGN_OR_RETURN(OssClient client, session.Oss());
  Status made = client.CreateBucket(bucket);
  if (!made.ok()) return made.WithContext("making the upload bucket " + bucket);
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(file, ec);
  ProgressBar bar("upload " + object, size);
  bar.set_disk_size(size);
  Status st = client.UploadFile(file, bucket, object, CheckpointFor(file, "oss://" + bucket + "/" + object),
                                [&bar](uint64_t done, uint64_t total) { bar.Update(done, total); },
                                OssClient::kImportPartBytes, staging);
  if (!st.ok()) return st;
  bar.Finish("uploaded");
  return Status::Ok();
}

Status DeleteUploaded(const ClientOptions& opts, const std::string& bucket, const std::string& object) {
  ASSIGN_OR_RETURN(Session session, Session::Open(opts));
  ASSIGN_OR_RETURN(OssClient client, session.Oss());
  return client.DeleteObject(bucket, object);
}

void OssCliOptions::AddTo(CLI::App* oss, const ClientOptions& client, std::function<Status()>& action) {
  client_ = &client;
  action_ = &action;
  auto with_v4 = [this](CLI::App* cmd) {
    cmd->add_flag("--v4", options.v4, "sign with OSS4-HMAC-SHA256 (default: signature V1)");
  };
  CLI::App* ls = oss->add_subcommand("ls", "list buckets, or the objects under oss://BUCKET[/PREFIX]");
  ls->add_option("WHERE", first, "BUCKET[/PREFIX] or oss://BUCKET[/PREFIX]; none lists buckets");
  ls->add_flag("-r,--recursive", options.recursive, "every object under the prefix, not one level");
  with_v4(ls);
  ls->callback([this] { *action_ = [this] { return OssList(*client_, options, first); }; });

  CLI::App* mb = oss->add_subcommand("mb", "make a bucket");
  mb->add_option("BUCKET", first, "bucket name or oss://BUCKET")->required();
  with_v4(mb);
  mb->callback([this] { *action_ = [this] { return OssMakeBucket(*client_, options, first); }; });

  CLI::App* cp = oss->add_subcommand(
      "cp", "copy a local file to oss://BUCKET/KEY or back (multipart, resumable: rerun to continue)");
  cp->add_option("SRC", first, "local file or oss://BUCKET/KEY")->required();
  cp->add_option("DST", second, "oss://BUCKET/[KEY] or a local path")->required();
  cp->add_option("--part-size", options.part_size_mib, "multipart part size in MiB (1-5120, default 16)");
  with_v4(cp);
  cp->callback([this] { *action_ = [this] { return OssCopy(*client_, options, first, second); }; });

  CLI::App* rm = oss->add_subcommand("rm", "delete an object: oss://BUCKET/KEY (or BUCKET OBJECT)");
  rm->add_option("OBJECT", first, "oss://BUCKET/KEY, or a bucket name followed by the object name")->required();
  rm->add_option("NAME", second, "object name (with the BUCKET OBJECT form)");
  with_v4(rm);
  rm->callback([this] { *action_ = [this] { return OssRemove(*client_, options, first, second); }; });

  CLI::App* presign = oss->add_subcommand("presign", "print a GET URL for oss://BUCKET/KEY that needs no keys");
  presign->add_option("OBJECT", first, "oss://BUCKET/KEY")->required();
  presign->add_option("--expires", options.expires, "seconds the URL stays valid (default 3600; V4 at most 604800)");
  with_v4(presign);
  presign->callback([this] { *action_ = [this] { return OssPresign(*client_, options, first); }; });
}

}  // namespace ferry::cli
