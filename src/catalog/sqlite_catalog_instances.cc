// SqliteCatalog: instances and disks (tables of schema version 5, instances'
// tags and billing of version 7, sqlite_catalog_instances.h). Listings filter
// on indexed columns in SQL and on the name pattern and tags in memory, then
// cut the page.
#include <algorithm>
#include <cstdint>

#include "catalog/sqlite_catalog.h"
#include "catalog/sqlite_catalog_sql.h"

namespace ferry {
namespace {

constexpr const char* kInstanceColumns =
    "instance_id, account_id, region_id, name, description, host_name, instance_type, zone_id, status, "
    "image_id, user_data, ram_role_name, creation_time, start_time, auto_start, tags, instance_charge_type, "
    "expired_time";
constexpr int kInstanceColumnCount = 18;
constexpr const char* kDiskColumns =
    "disk_id, account_id, instance_id, image_id, source_snapshot_id, base_key, size_gib, category, status, "
    "disk_type, device, creation_time";
constexpr int kDiskColumnCount = 12;

Result<std::vector<SqlValue>> InstanceValues(const InstanceRecord& r) {
  ASSIGN_OR_RETURN(std::string tags, catalog_sql::EncodeTags(r.tags, "instance " + r.instance_id));
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

Result<InstanceRecord> DecodeInstance(const SqliteStatement& s) {
  InstanceRecord r;
  r.instance_id = s.ColumnText(0);
  r.account_id = s.ColumnText(1);
  r.region_id = s.ColumnText(2);
  r.name = s.ColumnText(3);
  r.description = s.ColumnText(4);
  r.host_name = s.ColumnText(5);
  r.instance_type = s.ColumnText(6);
  r.zone_id = s.ColumnText(7);
  r.status = s.ColumnText(8);
  r.image_id = s.ColumnText(9);
  r.user_data = s.ColumnText(10);
  r.ram_role_name = s.ColumnText(11);
  r.creation_time = s.ColumnInt(12);
  r.start_time = s.ColumnInt(13);
  r.auto_start = s.ColumnInt(14) != 0;
  ASSIGN_OR_RETURN(r.tags, catalog_sql::DecodeTags(s.ColumnText(15), "instance " + r.instance_id));
  r.instance_charge_type = s.ColumnText(16);
  r.expired_time = s.ColumnInt(17);
  return r;
}

// Every tag of `wanted` is on `r`: the same key, and the same value unless
// the wanted one is empty.
bool HasTags(const InstanceRecord& r, const Tags& wanted) {
  return std::all_of(wanted.begin(), wanted.end(), [&r](const std::pair<std::string, std::string>& w) {
    return std::any_of(r.tags.begin(), r.tags.end(), [&w](const std::pair<std::string, std::string>& t) {
      return t.first == w.first && (w.second.empty() || t.second == w.second);
    });
  });
}

std::vector<SqlValue> DiskValues(const DiskRecord& r) {
  return {r.disk_id,   r.account_id, r.instance_id,
          r.image_id,  r.source_snapshot_id, r.base_key,
          static_cast<int64_t>(r.size_gib), r.category, r.status,
          r.type,      r.device,     int64_t{r.creation_time}};
}

DiskRecord DecodeDisk(const SqliteStatement& s) {
  DiskRecord r;
  r.disk_id = s.ColumnText(0);
  r.account_id = s.ColumnText(1);
  r.instance_id = s.ColumnText(2);
  r.image_id = s.ColumnText(3);
  r.source_snapshot_id = s.ColumnText(4);
  r.base_key = s.ColumnText(5);
  r.size_gib = static_cast<uint64_t>(s.ColumnInt(6));
  r.category = s.ColumnText(7);
  r.status = s.ColumnText(8);
  r.type = s.ColumnText(9);
  r.device = s.ColumnText(10);
  r.creation_time = s.ColumnInt(11);
  return r;
}

std::string Placeholders(int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += i == 0 ? "?" : ", ?";
  return out;
}

// "a = ?, b = ?, ..." for every column but the first (the key).
std::string Assignments(const char* columns) {
  std::string cols = columns;
  std::string out;
  size_t pos = cols.find(',');
  while (pos != std::string::npos) {
    size_t start = cols.find_first_not_of(' ', pos + 1);
    size_t end = cols.find(',', start);
    std::string name = cols.substr(start, end == std::string::npos ? std::string::npos : end - start);
    out += (out.empty() ? "" : ", ") + name + " = ?";
    pos = end;
  }
  return out;
}

Status Run(SqliteDb& db, const std::string& sql, const std::vector<SqlValue>& params) {
  ASSIGN_OR_RETURN(SqliteStatement stmt, db.Prepare(sql));
  RETURN_IF_ERROR(stmt.BindAll(params));
  return stmt.Run();
}

template <typename T>
Result<std::vector<T>> Select(SqliteDb& db, const std::string& sql, const std::vector<SqlValue>& params,
                              T (*decode)(const SqliteStatement&)) {
  ASSIGN_OR_RETURN(SqliteStatement stmt, db.Prepare(sql));
  RETURN_IF_ERROR(stmt.BindAll(params));
  std::vector<T> rows;
  while (true) {
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return rows;
    rows.push_back(decode(stmt));
  }
}

// Builds "WHERE a = ? AND b IN (?, ?)" from the filters that are set.
struct Where {
  std::string sql;
  std::vector<SqlValue> params;
  void Equals(const char* column, const std::string& value) {
    if (value.empty()) return;
    sql += (sql.empty() ? " WHERE " : " AND ") + std::string(column) + " = ?";
    params.push_back(value);
  }
  void In(const char* column, const std::vector<std::string>& values) {
    sql += (sql.empty() ? " WHERE " : " AND ") + std::string(column) + " IN (" +
           Placeholders(static_cast<int>(values.size())) + ")";
    for (const std::string& v : values) params.push_back(v);
  }
};

// '*' matches any run of characters; everything else matches itself.
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

template <typename T>
Page<T> Cut(std::vector<T> all, uint64_t offset, uint64_t limit) {
  Page<T> page;
  page.total = all.size();
  const uint64_t begin = std::min<uint64_t>(offset, all.size());
  const uint64_t end = limit == 0 ? all.size() : std::min<uint64_t>(all.size(), begin + limit);
  page.items.assign(std::make_move_iterator(all.begin() + static_cast<std::ptrdiff_t>(begin)),
                    std::make_move_iterator(all.begin() + static_cast<std::ptrdiff_t>(end)));
  return page;
}

}  // namespace

// --- instances ---

Status SqliteCatalog::InsertInstance(const InstanceRecord& r) {
  ASSIGN_OR_RETURN(std::vector<SqlValue> values, InstanceValues(r));
  return Write([&]() -> Status {
    return Run(*db_,
               std::string("INSERT INTO instances (") + kInstanceColumns + ") VALUES (" +
                   Placeholders(kInstanceColumnCount) + ")",
               values)
        .WithContext("insert instance " + r.instance_id);
  });
}

Status SqliteCatalog::UpdateInstance(const InstanceRecord& r) {
  ASSIGN_OR_RETURN(std::vector<SqlValue> values, InstanceValues(r));
  std::rotate(values.begin(), values.begin() + 1, values.end());  // the key goes last
  return Write([&]() -> Status {
    RETURN_IF_ERROR(
        Run(*db_, std::string("UPDATE instances SET ") + Assignments(kInstanceColumns) + " WHERE instance_id = ?",
            values)
            .WithContext("update instance " + r.instance_id));
    if (db_->changes() == 0) {
      return NotFound("InvalidInstanceId.NotFound", "instance " + r.instance_id + " does not exist");
    }
    return Status::Ok();
  });
}

Result<InstanceRecord> SqliteCatalog::GetInstance(const std::string& instance_id) {
  ASSIGN_OR_RETURN(ReadLease reader, Reader());
  ASSIGN_OR_RETURN(
      std::vector<InstanceRecord> rows,
      catalog_sql::Rows<InstanceRecord>(
          reader.db(), std::string("SELECT ") + kInstanceColumns + " FROM instances WHERE instance_id = ?",
          {instance_id}, DecodeInstance));
  if (rows.empty()) return NotFound("InvalidInstanceId.NotFound", "instance " + instance_id + " does not exist");
  return std::move(rows.front());
}

Status SqliteCatalog::DeleteInstance(const std::string& instance_id) {
  return Write([&]() -> Status {
    return Run(*db_, "DELETE FROM instances WHERE instance_id = ?", {instance_id})
        .WithContext("delete instance " + instance_id);
  });
}

Result<Page<InstanceRecord>> SqliteCatalog::ListInstances(const InstanceQuery& q) {
  if (q.instance_ids && q.instance_ids->empty()) return Page<InstanceRecord>{};
  Where where;
  where.Equals("account_id", q.account_id);
  if (q.instance_ids) where.In("instance_id", *q.instance_ids);
  where.Equals("image_id", q.image_id);
  if (!q.statuses.empty()) where.In("status", q.statuses);
  std::vector<InstanceRecord> all;
  {
    ASSIGN_OR_RETURN(ReadLease reader, Reader());
    ASSIGN_OR_RETURN(
        all, catalog_sql::Rows<InstanceRecord>(reader.db(),
                                               std::string("SELECT ") + kInstanceColumns + " FROM instances" +
                                                   where.sql + " ORDER BY creation_time DESC, instance_id",
                                               where.params, DecodeInstance));
  }
  if (!q.name_pattern.empty()) {
    std::erase_if(all, [&](const InstanceRecord& r) { return !WildcardMatch(q.name_pattern, r.name); });
  }
  if (!q.tags.empty()) std::erase_if(all, [&](const InstanceRecord& r) { return !HasTags(r, q.tags); });
  return Cut(std::move(all), q.offset, q.limit);
}

// --- disks ---

Status SqliteCatalog::InsertDisk(const DiskRecord& r) {
  return Write([&]() -> Status {
    return Run(*db_,
               std::string("INSERT INTO disks (") + kDiskColumns + ") VALUES (" + Placeholders(kDiskColumnCount) +
                   ")",
               DiskValues(r))
        .WithContext("insert disk " + r.disk_id);
  });
}

Status SqliteCatalog::UpdateDisk(const DiskRecord& r) {
  std::vector<SqlValue> values = DiskValues(r);
  std::rotate(values.begin(), values.begin() + 1, values.end());
  return Write([&]() -> Status {
    RETURN_IF_ERROR(
        Run(*db_, std::string("UPDATE disks SET ") + Assignments(kDiskColumns) + " WHERE disk_id = ?", values)
            .WithContext("update disk " + r.disk_id));
    if (db_->changes() == 0) return NotFound("InvalidDiskId.NotFound", "disk " + r.disk_id + " does not exist");
    return Status::Ok();
  });
}

Result<DiskRecord> SqliteCatalog::GetDisk(const std::string& disk_id) {
  ASSIGN_OR_RETURN(ReadLease reader, Reader());
  ASSIGN_OR_RETURN(std::vector<DiskRecord> rows,
                   Select<DiskRecord>(reader.db(), std::string("SELECT ") + kDiskColumns + " FROM disks WHERE disk_id = ?",
                                      {disk_id}, DecodeDisk));
  if (rows.empty()) return NotFound("InvalidDiskId.NotFound", "disk " + disk_id + " does not exist");
  return std::move(rows.front());
}

Status SqliteCatalog::DeleteDisk(const std::string& disk_id) {
  return Write([&]() -> Status {
    return Run(*db_, "DELETE FROM disks WHERE disk_id = ?", {disk_id}).WithContext("delete disk " + disk_id);
  });
}

Result<Page<DiskRecord>> SqliteCatalog::ListDisks(const DiskQuery& q) {
  if (q.disk_ids && q.disk_ids->empty()) return Page<DiskRecord>{};
  Where where;
  where.Equals("account_id", q.account_id);
  if (q.disk_ids) where.In("disk_id", *q.disk_ids);
  where.Equals("instance_id", q.instance_id);
  where.Equals("disk_type", q.disk_type);
  std::vector<DiskRecord> all;
  {
    ASSIGN_OR_RETURN(ReadLease reader, Reader());
    ASSIGN_OR_RETURN(all, Select<DiskRecord>(reader.db(),
                                             std::string("SELECT ") + kDiskColumns + " FROM disks" + where.sql +
                                                 " ORDER BY creation_time DESC, disk_id",
                                             where.params, DecodeDisk));
  }
  return Cut(std::move(all), q.offset, q.limit);
}

}  // namespace ferry
