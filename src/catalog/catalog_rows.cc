#include "catalog/catalog_rows.h"

#include <nlohmann/json.hpp>

namespace ferry::catalog_sql {

Result<std::string> EncodeTags(const Tags& tags, const std::string& owner) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& [key, value] : tags) arr.push_back(nlohmann::json::array({key, value}));
  try {
    return arr.dump();
  } catch (const nlohmann::json::exception& e) {
    // dump() rejects strings that are not valid UTF-8.
    return InvalidArgument("", "tags of " + owner + " cannot be stored: " + e.what());
  }
}

Result<Tags> DecodeTags(const std::string& text, const std::string& owner) {
  if (text == "[]") return Tags();  // most rows: no parser for them
  try {
    Tags tags;
    for (const auto& pair : nlohmann::json::parse(text)) {
      tags.emplace_back(pair.at(0).get<std::string>(), pair.at(1).get<std::string>());
    }
    return tags;
  } catch (const nlohmann::json::exception& e) {
    return DataLoss("stored tags of " + owner + " are unreadable: " + e.what());
  }
}

std::string JoinColumns(Columns cols, const std::string& prefix) {
  std::string out;
  for (size_t i = 0; i < cols.size(); ++i) {
    if (i) out += ", ";
    out += prefix;
    out += cols[i];
  }
  return out;
}

std::string SelectSql(const char* table, Columns cols) {
  return "SELECT " + JoinColumns(cols) + " FROM " + table;
}

std::string InsertSql(const char* table, Columns cols) {
  return "INSERT INTO " + std::string(table) + " (" + JoinColumns(cols) + ") VALUES (" +
         WhereClause::Placeholders(cols.size()) + ")";
}

std::string UpdateSql(const char* table, Columns cols) {
  std::string sets;
  for (size_t i = 1; i < cols.size(); ++i) {
    if (i > 1) sets += ", ";
    sets += std::string(cols[i]) + " = ?";
  }
  return "UPDATE " + std::string(table) + " SET " + sets + " WHERE " + cols[0] + " = ?";
}

std::vector<SqlValue> KeyLast(std::vector<SqlValue> values) {
  std::rotate(values.begin(), values.begin() + 1, values.end());
  return values;
}

Result<std::vector<SqlValue>> ImageValues(const ImageRecord& r) {
  const std::string owner = "image " + r.image_id;
  ASSIGN_OR_RETURN(std::string disks, EncodeDiskMappings(r.disks, r.image_id));
  ASSIGN_OR_RETURN(std::string tags, EncodeTags(r.tags, owner));
  return std::vector<SqlValue>{r.image_id,
                               r.account_id,
                               r.name,
                               r.description,
                               r.status,
                               int64_t{r.progress},
                               r.os_type,
                               r.os_name,
                               r.platform,
                               r.architecture,
                               r.boot_mode,
                               r.image_family,
                               r.image_version,
                               r.license_type,
                               r.resource_group_id,
                               ToSql(r.size_gib),
                               disks,
                               tags,
                               int64_t{r.is_copied},
                               r.source_region_id,
                               r.source_image_id,
                               r.failure_reason,
                               int64_t{r.creation_time}};
}

Result<std::vector<SqlValue>> SnapshotValues(const SnapshotRecord& r) {
  ASSIGN_OR_RETURN(std::string tags, EncodeTags(r.tags, "snapshot " + r.snapshot_id));
  SqlValue manifest = r.manifest.empty() ? SqlValue(nullptr) : SqlValue(r.manifest);
  return std::vector<SqlValue>{r.snapshot_id,
                               r.account_id,
                               r.name,
                               r.description,
                               r.status,
                               int64_t{r.progress},
                               ToSql(r.logical_size),
                               ToSql(r.source_disk_size_gib),
                               r.source_disk_type,
                               r.usage,
                               int64_t{r.encrypted},
                               r.kms_key_id,
                               r.source_region_id,
                               r.source_snapshot_id,
                               r.content_digest,
                               tags,
                               int64_t{r.creation_time},
                               int64_t{r.last_modified_time},
                               r.source_disk_id,
                               std::move(manifest)};
}

std::vector<SqlValue> TaskValues(const TaskRecord& r) {
  return std::vector<SqlValue>{r.task_id,
                               r.account_id,
                               r.action,
                               r.status,
                               int64_t{r.progress},
                               r.resource_id,
                               r.params,
                               r.error_code,
                               r.error_message,
                               int64_t{r.cancel_requested},
                               int64_t{r.creation_time},
                               int64_t{r.finished_time},
                               int64_t{r.attempts}};
}

Result<std::vector<SqlValue>> InstanceValues(const InstanceRecord& r) {
  ASSIGN_OR_RETURN(std::string tags, EncodeTags(r.tags, "instance " + r.instance_id));
  return std::vector<SqlValue>{r.instance_id,
                               r.account_id,
                               r.region_id,
                               r.name,
                               r.description,
                               r.host_name,
                               r.instance_type,
                               r.zone_id,
                               r.status,
                               r.image_id,
                               r.user_data,
                               r.ram_role_name,
                               int64_t{r.creation_time},
                               int64_t{r.start_time},
                               int64_t{r.auto_start},
                               tags,
                               r.instance_charge_type,
                               int64_t{r.expired_time}};
}

std::vector<SqlValue> DiskValues(const DiskRecord& r) {
  return {r.disk_id,
          r.account_id,
          r.instance_id,
          r.image_id,
          r.source_snapshot_id,
          r.base_key,
          ToSql(r.size_gib),
          r.category,
          r.status,
          r.type,
          r.device,
          int64_t{r.creation_time}};
}

WhereClause SnapshotFilter(const SnapshotQuery& q) {
  WhereClause where;
  if (!q.account_id.empty() && !q.also_snapshot_ids.empty()) {
    std::vector<SqlValue> params{q.account_id};
    for (const std::string& id : q.also_snapshot_ids) params.emplace_back(id);
    where.Add(
        "(account_id = ? OR snapshot_id IN (" + WhereClause::Placeholders(q.also_snapshot_ids.size()) + "))",
        std::move(params));
  } else {
    where.AddEquals("account_id", q.account_id);
  }
  where.AddIn("snapshot_id", q.snapshot_ids);
  where.AddEquals("status", q.status);
  where.AddEquals("name", q.name);
  where.AddEquals("source_disk_id", q.source_disk_id);
  return where;
}

WhereClause TaskFilter(const TaskQuery& q) {
  WhereClause where;
  where.AddEquals("account_id", q.account_id);
  where.AddIn("task_id", q.task_ids);
  where.AddEquals("action", q.action);
  where.AddIn("action", q.actions);
  where.AddEquals("status", q.status);
  where.AddIn("resource_id", q.resource_ids);
  where.AddIn("status", q.statuses);
  return where;
}

WhereClause InstanceFilter(const InstanceQuery& q) {
  WhereClause where;
  where.AddEquals("account_id", q.account_id);
  if (q.instance_ids) where.AddIn("instance_id", *q.instance_ids);
  where.AddEquals("image_id", q.image_id);
  where.AddIn("status", q.statuses);
  return where;
}

WhereClause DiskFilter(const DiskQuery& q) {
  WhereClause where;
  where.AddEquals("account_id", q.account_id);
  if (q.disk_ids) where.AddIn("disk_id", *q.disk_ids);
  where.AddEquals("instance_id", q.instance_id);
  where.AddEquals("disk_type", q.disk_type);
  return where;
}

void MarkEncryptedDisks(const std::map<std::string, bool>& encrypted, std::vector<ImageRecord>& images) {
  for (ImageRecord& image : images) {
    for (DiskMapping& disk : image.disks) {
      auto it = encrypted.find(disk.snapshot_id);
      disk.encrypted = it != encrypted.end() && it->second;
    }
  }
}

bool WildcardMatch(const std::string& pattern, const std::string& text) {
  size_t p = 0, t = 0, star = std::string::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool HasInstanceTags(const InstanceRecord& r, const Tags& wanted) {
  return std::all_of(wanted.begin(), wanted.end(), [&r](const std::pair<std::string, std::string>& w) {
    return std::any_of(r.tags.begin(), r.tags.end(), [&w](const std::pair<std::string, std::string>& t) {
      return t.first == w.first && (w.second.empty() || t.second == w.second);
    });
  });
}

void FilterInstancesInMemory(const InstanceQuery& q, std::vector<InstanceRecord>& all) {
  if (!q.name_pattern.empty()) {
    std::erase_if(all, [&](const InstanceRecord& r) { return !WildcardMatch(q.name_pattern, r.name); });
  }
  if (!q.tags.empty())
    std::erase_if(all, [&](const InstanceRecord& r) { return !HasInstanceTags(r, q.tags); });
}

}  // namespace ferry::catalog_sql
