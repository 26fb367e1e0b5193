#include "region/copy_wire.h"

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "common/hash.h"

namespace ferry {
namespace {

using Json = nlohmann::json;

Json EncodeTags(const Tags& tags) {
  Json out = Json::array();
  for (const auto& [key, value] : tags) out.push_back({{"Key", key}, {"Value", value}});
  return out;
}

Json EncodeDisk(const DiskMapping& d) {
  return {{"SnapshotId", d.snapshot_id},     {"SizeGiB", d.size_gib},
          {"Device", d.device},              {"Type", d.type},
          {"Format", d.format},              {"ImportBucket", d.import_bucket},
          {"ImportObject", d.import_object}};
}

Json EncodeImage(const ImageRecord& r) {
  Json disks = Json::array();
  for (const DiskMapping& d : r.disks) disks.push_back(EncodeDisk(d));
  return {{"ImageId", r.image_id},
          {"AccountId", r.account_id},
          {"Name", r.name},
          {"Description", r.description},
          {"Status", r.status},
          {"Progress", r.progress},
          {"OsType", r.os_type},
          {"OsName", r.os_name},
          {"Platform", r.platform},
          {"Architecture", r.architecture},
          {"BootMode", r.boot_mode},
          {"ImageFamily", r.image_family},
          {"ImageVersion", r.image_version},
          {"LicenseType", r.license_type},
          {"ResourceGroupId", r.resource_group_id},
          {"SizeGiB", r.size_gib},
          {"Disks", std::move(disks)},
          {"Tags", EncodeTags(r.tags)},
          {"IsCopied", r.is_copied},
          {"SourceRegionId", r.source_region_id},
          {"SourceImageId", r.source_image_id},
          {"FailureReason", r.failure_reason},
          {"CreationTime", r.creation_time},
          {"RemainTimeSeconds", r.remain_time_seconds},
          {"QueuePosition", r.queue_position}};
}

// The manifest travels only when the snapshot carries one (CopyTarget).
Json EncodeSnapshot(const SnapshotRecord& r) {
  Json out = {{"SnapshotId", r.snapshot_id},
          {"AccountId", r.account_id},
          {"Name", r.name},
          {"Description", r.description},
          {"Status", r.status},
          {"Progress", r.progress},
          {"LogicalSize", r.logical_size},
          {"SourceDiskSizeGiB", r.source_disk_size_gib},
          {"SourceDiskType", r.source_disk_type},
          {"Usage", r.usage},
          {"Encrypted", r.encrypted},
          {"KmsKeyId", r.kms_key_id},
          {"SourceRegionId", r.source_region_id},
          {"SourceSnapshotId", r.source_snapshot_id},
          {"ContentDigest", r.content_digest},
          {"Tags", EncodeTags(r.tags)},
          {"CreationTime", r.creation_time},
          {"LastModifiedTime", r.last_modified_time}};
  if (!r.manifest.empty()) {
    out["Manifest"] =
        Base64Encode(std::string_view(reinterpret_cast<const char*>(r.manifest.data()), r.manifest.size()));
  }
  return out;
}

// Reads the members of one JSON object, each exactly once, and remembers
// the first problem (missing, mistyped or unknown field) with its path.
class ObjectReader {
 public:
  ObjectReader(const Json& object, std::string path, Status* error)
      : object_(object), path_(std::move(path)), error_(error) {}

  void Text(const char* key, std::string* out) {
    if (const Json* v = Member(key, "a string", [](const Json& j) { return j.is_string(); })) {
      *out = v->get<std::string>();
    }
  }
  void Unsigned(const char* key, uint64_t* out) {
    if (const Json* v = Member(key, "a non-negative integer", [](const Json& j) { return j.is_number_unsigned(); })) {
      *out = v->get<uint64_t>();
    }
  }
  void Signed(const char* key, int64_t* out) {
    if (const Json* v = Member(key, "an integer", [](const Json& j) {
          return j.is_number_integer() &&
                 (!j.is_number_unsigned() ||
                  j.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()));
        })) {
      *out = v->get<int64_t>();
    }
  }
  void Small(const char* key, int* out) {
    if (const Json* v = Member(key, "a 32-bit integer", [](const Json& j) {
          if (!j.is_number_integer()) return false;
          if (j.is_number_unsigned()) return j.get<uint64_t>() <= std::numeric_limits<int>::max();
          int64_t x = j.get<int64_t>();
          return x >= std::numeric_limits<int>::min() && x <= std::numeric_limits<int>::max();
        })) {
      *out = static_cast<int>(v->get<int64_t>());
    }
  }
  void Flag(const char* key, bool* out) {
    if (const Json* v = Member(key, "true or false", [](const Json& j) { return j.is_boolean(); })) {
      *out = v->get<bool>();
    }
  }
  // As Text, but an absent member is no error: `out` is left as it was.
  bool OptionalText(const char* key, std::string* out) {
    if (!object_.contains(key)) {
      seen_.insert(key);
      return false;
    }
    Text(key, out);
    return error_->ok();
  }
  const Json* Array(const char* key) {
    return Member(key, "an array", [](const Json& j) { return j.is_array(); });
  }
  const Json* Object(const char* key) {
    return Member(key, "an object", [](const Json& j) { return j.is_object(); });
  }

  std::string PathOf(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

  // Reports the first member no getter asked for.
  void Finish() {
    if (!error_->ok()) return;
    for (auto it = object_.begin(); it != object_.end(); ++it) {
      if (seen_.count(it.key()) == 0) {
        Fail("The field \"" + PathOf(it.key()) + "\" is not known to this Ferry version.");
        return;
      }
    }
  }

  void Fail(const std::string& message) {
    if (error_->ok()) *error_ = InvalidArgument("InvalidParameter", "Copy target: " + message);
  }

 private:
  template <typename Check>
  const Json* Member(const char* key, const char* kind, Check check) {
    seen_.insert(key);
    if (!error_->ok()) return nullptr;
    auto it = object_.find(key);
    if (it == object_.end()) {
      Fail("The field \"" + PathOf(key) + "\" is missing.");
      return nullptr;
    }
    if (!check(*it)) {
      Fail("The field \"" + PathOf(key) + "\" must be " + kind + ", not " + it->dump() + ".");
      return nullptr;
    }
    return &*it;
  }

  const Json& object_;
  const std::string path_;
  Status* error_;
  std::set<std::string> seen_;
};

// Runs `read` on each element of the array member `key`, which must hold
// objects.
template <typename Read>
void ForEachObject(ObjectReader& parent, const char* key, Status* error, Read read) {
  const Json* array = parent.Array(key);
  if (array == nullptr) return;
  for (size_t i = 0; i < array->size() && error->ok(); ++i) {
    const std::string path = parent.PathOf(key) + "[" + std::to_string(i) + "]";
    if (!(*array)[i].is_object()) {
      parent.Fail("The field \"" + path + "\" must be an object.");
      return;
    }
    ObjectReader element((*array)[i], path, error);
    read(element);
    element.Finish();
  }
}

void DecodeTags(ObjectReader& parent, const char* key, Tags* out, Status* error) {
  ForEachObject(parent, key, error, [out](ObjectReader& tag) {
    std::string k, v;
    tag.Text("Key", &k);
    tag.Text("Value", &v);
    out->emplace_back(std::move(k), std::move(v));
  });
}

void DecodeImage(ObjectReader& in, ImageRecord* r, Status* error) {
  in.Text("ImageId", &r->image_id);
  in.Text("AccountId", &r->account_id);
  in.Text("Name", &r->name);
  in.Text("Description", &r->description);
  in.Text("Status", &r->status);
  in.Small("Progress", &r->progress);
  in.Text("OsType", &r->os_type);
  in.Text("OsName", &r->os_name);
  in.Text("Platform", &r->platform);
  in.Text("Architecture", &r->architecture);
  in.Text("BootMode", &r->boot_mode);
  in.Text("ImageFamily", &r->image_family);
  in.Text("ImageVersion", &r->image_version);
  in.Text("LicenseType", &r->license_type);
  in.Text("ResourceGroupId", &r->resource_group_id);
  in.Unsigned("SizeGiB", &r->size_gib);
  ForEachObject(in, "Disks", error, [r](ObjectReader& disk) {
    DiskMapping d;
    disk.Text("SnapshotId", &d.snapshot_id);
    disk.Unsigned("SizeGiB", &d.size_gib);
    disk.Text("Device", &d.device);
    disk.Text("Type", &d.type);
    disk.Text("Format", &d.format);
    disk.Text("ImportBucket", &d.import_bucket);
    disk.Text("ImportObject", &d.import_object);
    r->disks.push_back(std::move(d));
  });
  DecodeTags(in, "Tags", &r->tags, error);
  in.Flag("IsCopied", &r->is_copied);
  in.Text("SourceRegionId", &r->source_region_id);
  in.Text("SourceImageId", &r->source_image_id);
  in.Text("FailureReason", &r->failure_reason);
  in.Signed("CreationTime", &r->creation_time);
  in.Signed("RemainTimeSeconds", &r->remain_time_seconds);
  in.Unsigned("QueuePosition", &r->queue_position);
}

void DecodeSnapshot(ObjectReader& in, SnapshotRecord* r, Status* error) {
  in.Text("SnapshotId", &r->snapshot_id);
  in.Text("AccountId", &r->account_id);
  in.Text("Name", &r->name);
  in.Text("Description", &r->description);
  in.Text("Status", &r->status);
  in.Small("Progress", &r->progress);
  in.Unsigned("LogicalSize", &r->logical_size);
  in.Unsigned("SourceDiskSizeGiB", &r->source_disk_size_gib);
  in.Text("SourceDiskType", &r->source_disk_type);
  in.Text("Usage", &r->usage);
  in.Flag("Encrypted", &r->encrypted);
  in.Text("KmsKeyId", &r->kms_key_id);
  in.Text("SourceRegionId", &r->source_region_id);
  in.Text("SourceSnapshotId", &r->source_snapshot_id);
  in.Text("ContentDigest", &r->content_digest);
  DecodeTags(in, "Tags", &r->tags, error);
  in.Signed("CreationTime", &r->creation_time);
  in.Signed("LastModifiedTime", &r->last_modified_time);
  std::string manifest;
  if (in.OptionalText("Manifest", &manifest)) {
    std::string bytes;
    if (!Base64Decode(manifest, &bytes)) {
      in.Fail("The field \"" + in.PathOf("Manifest") + "\" must be base64.");
      return;
    }
    r->manifest.assign(bytes.begin(), bytes.end());
  }
}

}  // namespace

std::string EncodeCopyTarget(const CopyTarget& t) {
  Json snapshots = Json::array();
  for (const SnapshotRecord& s : t.source_snapshots) snapshots.push_back(EncodeSnapshot(s));
  Json out = {{"ImageId", t.image_id},
              {"AccountId", t.account_id},
              {"SourceRegionId", t.source_region_id},
              {"SourceImage", EncodeImage(t.source_image)},
              {"SourceSnapshots", std::move(snapshots)},
              {"ImageName", t.image_name},
              {"Description", t.description},
              {"Tags", EncodeTags(t.tags)},
              {"ClientToken", t.client_token},
              {"DryRun", t.dry_run}};
  // Names and descriptions were validated as text by the API layer; should
  // a byte that is not UTF-8 slip through, it becomes U+FFFD rather than
  // an exception.
  return out.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Result<CopyTarget> DecodeCopyTarget(std::string_view text) {
  try {
    Json root = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (root.is_discarded() || !root.is_object()) {
      return InvalidArgument("InvalidParameter", "Copy target: the body (" + std::to_string(text.size()) +
                                                     " bytes) is not a JSON object.");
    }
    Status error;
    CopyTarget t;
    ObjectReader in(root, "", &error);
    in.Text("ImageId", &t.image_id);
    in.Text("AccountId", &t.account_id);
    in.Text("SourceRegionId", &t.source_region_id);
    if (const Json* image = in.Object("SourceImage")) {
      ObjectReader image_in(*image, "SourceImage", &error);
      DecodeImage(image_in, &t.source_image, &error);
      image_in.Finish();
    }
    ForEachObject(in, "SourceSnapshots", &error, [&t, &error](ObjectReader& snapshot) {
      SnapshotRecord s;
      DecodeSnapshot(snapshot, &s, &error);
      t.source_snapshots.push_back(std::move(s));
    });
    in.Text("ImageName", &t.image_name);
    in.Text("Description", &t.description);
    DecodeTags(in, "Tags", &t.tags, &error);
    in.Text("ClientToken", &t.client_token);
    in.Flag("DryRun", &t.dry_run);
    in.Finish();
    if (!error.ok()) return error;
    return t;
  } catch (const std::exception& e) {
    // The checks above make this unreachable; a library surprise still
    // must not cross the module.
    return InvalidArgument("InvalidParameter", std::string("Copy target: ") + e.what());
  }
}

}  // namespace ferry
