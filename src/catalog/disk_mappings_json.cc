#include "catalog/disk_mappings_json.h"

#include <nlohmann/json.hpp>

namespace ferry::catalog_sql {
namespace {

// Reads the encoder's exact output; any other byte makes it give up (false),
// and the caller asks nlohmann::json instead. Never wrong, sometimes unsure.
class ShapeReader {
 public:
  explicit ShapeReader(std::string_view text) : text_(text) {}

  bool Read(std::vector<DiskMapping>* disks) {
    if (!Take('[')) return false;
    if (Take(']')) return AtEnd();
    do {
      // Read in place: a DiskMapping is nine strings to move otherwise.
      if (!ReadDisk(&disks->emplace_back())) return false;
    } while (Take(','));
    return Take(']') && AtEnd();
  }

 private:
  // One object, members in the encoder's (key) order; the two detected_*
  // members may be absent.
  bool ReadDisk(DiskMapping* d) {
    if (!Take('{')) return false;
    if (Key("detected_content") && !(String(&d->detected_content) && Take(','))) return false;
    if (Key("detected_format") && !(String(&d->detected_format) && Take(','))) return false;
    return Key("device") && String(&d->device) && Take(',') &&     //
           Key("format") && String(&d->format) && Take(',') &&     //
           Key("import_bucket") && String(&d->import_bucket) && Take(',') &&
           Key("import_object") && String(&d->import_object) && Take(',') &&
           Key("size_gib") && Unsigned(&d->size_gib) && Take(',') &&  //
           Key("snapshot_id") && String(&d->snapshot_id) && Take(',') &&
           Key("type") && String(&d->type) && Take('}');
  }

  bool AtEnd() const { return pos_ == text_.size(); }
  bool Take(char c) {
    if (pos_ >= text_.size() || text_[pos_] != c) return false;
    ++pos_;
    return true;
  }
  // "name": at the cursor, consumed only if it is there.
  bool Key(std::string_view name) {
    const std::string_view rest = text_.substr(pos_);
    if (rest.size() < name.size() + 3 || rest[0] != '"' || rest.substr(1, name.size()) != name ||
        rest[name.size() + 1] != '"' || rest[name.size() + 2] != ':') {
      return false;
    }
    pos_ += name.size() + 3;
    return true;
  }
  // A string of printable ASCII other than '"' and '\': its bytes are its
  // value, as any JSON parser reads them.
  bool String(std::string* out) {
    if (!Take('"')) return false;
    const size_t begin = pos_;
    while (pos_ < text_.size()) {
      const auto b = static_cast<unsigned char>(text_[pos_]);
      if (b == '"') {
        out->assign(text_.substr(begin, pos_ - begin));
        ++pos_;
        return true;
      }
      if (b < 0x20 || b > 0x7e || b == '\\') return false;
      ++pos_;
    }
    return false;
  }
  // 0, or 1-19 digits without a leading zero: every such number fits in
  // uint64_t (19 nines < 2^64), as the parser would read it.
  bool Unsigned(uint64_t* out) {
    size_t digits = 0;
    uint64_t value = 0;
    while (pos_ + digits < text_.size() && text_[pos_ + digits] >= '0' && text_[pos_ + digits] <= '9') {
      value = value * 10 + static_cast<uint64_t>(text_[pos_ + digits] - '0');
      ++digits;
    }
    if (digits == 0 || digits > 19 || (digits > 1 && text_[pos_] == '0')) return false;
    pos_ += digits;
    *out = value;
    return true;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

Result<std::string> EncodeDiskMappings(const std::vector<DiskMapping>& disks, std::string_view image_id) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& d : disks) {
    arr.push_back({{"snapshot_id", d.snapshot_id},
                   {"size_gib", d.size_gib},
                   {"device", d.device},
                   {"type", d.type},
                   {"format", d.format},
                   {"import_bucket", d.import_bucket},
                   {"import_object", d.import_object},
                   {"detected_format", d.detected_format},
                   {"detected_content", d.detected_content}});
  }
  try {
    return arr.dump();
  } catch (const nlohmann::json::exception& e) {
    // dump() rejects strings that are not valid UTF-8.
    return InvalidArgument("", "disk mappings of image " + std::string(image_id) + " cannot be stored: " + e.what());
  }
}

Result<std::vector<DiskMapping>> DecodeDiskMappings(std::string_view text, std::string_view image_id) {
  std::vector<DiskMapping> disks;
  if (ShapeReader(text).Read(&disks)) return disks;
  return DecodeDiskMappingsWithParser(text, image_id);
}

Result<std::vector<DiskMapping>> DecodeDiskMappingsWithParser(std::string_view text, std::string_view image_id) {
  try {
    std::vector<DiskMapping> disks;
    nlohmann::json parsed = nlohmann::json::parse(text);
    disks.reserve(parsed.size());
    // The parsed strings are moved out, not copied (get_ref throws
    // type_error for a non-string, as get<std::string> did).
    auto take = [](nlohmann::json& j, const char* key) { return std::move(j.at(key).get_ref<std::string&>()); };
    for (auto& j : parsed) {
      DiskMapping d;
      d.snapshot_id = take(j, "snapshot_id");
      d.size_gib = j.at("size_gib").get<uint64_t>();
      d.device = take(j, "device");
      d.type = take(j, "type");
      d.format = take(j, "format");
      d.import_bucket = take(j, "import_bucket");
      d.import_object = take(j, "import_object");
      // Absent in rows written before imports recorded them.
      if (j.contains("detected_format")) d.detected_format = take(j, "detected_format");
      if (j.contains("detected_content")) d.detected_content = take(j, "detected_content");
      disks.push_back(std::move(d));
    }
    return disks;
  } catch (const nlohmann::json::exception& e) {
    return DataLoss("stored disk mappings of image " + std::string(image_id) + " are unreadable: " + e.what());
  }
}

}  // namespace ferry::catalog_sql
