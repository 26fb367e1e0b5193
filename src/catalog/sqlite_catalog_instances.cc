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

using catalog_sql::DecodeDisk;
using catalog_sql::DecodeInstance;
using catalog_sql::DiskValues;
using catalog_sql::InsertSql;
using catalog_sql::InstanceValues;
using catalog_sql::kDiskColumns;
using catalog_sql::KeyLast;
using catalog_sql::kInstanceColumns;
using catalog_sql::SelectSql;
using catalog_sql::Slice;
using catalog_sql::UpdateSql;
using catalog_sql::WhereClause;

Status Run(SqliteDb& db, const std::string& sql, const std::vector<SqlValue>& params) {
  ASSIGN_OR_RETURN(SqliteStatement stmt, db.Prepare(sql));
  RETURN_IF_ERROR(stmt.BindAll(params));
  return stmt.Run();
}

}  // namespace

// --- instances ---

Status SqliteCatalog::InsertInstance(const InstanceRecord& r) {
  ASSIGN_OR_RETURN(std::vector<SqlValue> values, InstanceValues(r));
  return Write([&]() -> Status {
    return Run(*db_, InsertSql("instances", kInstanceColumns), values)
        .WithContext("insert instance " + r.instance_id);
  });
}

Status SqliteCatalog::UpdateInstance(const InstanceRecord& r) {
  ASSIGN_OR_RETURN(std::vector<SqlValue> values, InstanceValues(r));
  return Write([&]() -> Status {
    RETURN_IF_ERROR(Run(*db_, UpdateSql("instances", kInstanceColumns), KeyLast(std::move(values)))
                        .WithContext("update instance " + r.instance_id));
    if (db_->changes() == 0) {
      return NotFound("InvalidInstanceId.NotFound", "instance " + r.instance_id + " does not exist");
    }
    return Status::Ok();
  });
}

Result<InstanceRecord> SqliteCatalog::GetInstance(const std::string& instance_id) {
  ASSIGN_OR_RETURN(ReadLease reader, Reader());
  ASSIGN_OR_RETURN(std::vector<InstanceRecord> rows,
                   catalog_sql::Rows<InstanceRecord>(
                       reader.db(), SelectSql("instances", kInstanceColumns) + " WHERE instance_id = ?",
                       {instance_id}, DecodeInstance<SqliteStatement>));
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
  const WhereClause where = catalog_sql::InstanceFilter(q);
  std::vector<InstanceRecord> all;
  {
    ASSIGN_OR_RETURN(ReadLease reader, Reader());
    ASSIGN_OR_RETURN(
        all, catalog_sql::Rows<InstanceRecord>(reader.db(),
                                               SelectSql("instances", kInstanceColumns) + where.Sql() +
                                                   " ORDER BY creation_time DESC, instance_id",
                                               where.params(), DecodeInstance<SqliteStatement>));
  }
  catalog_sql::FilterInstancesInMemory(q, all);
  return Slice(std::move(all), q.offset, q.limit);
}

// --- disks ---

Status SqliteCatalog::InsertDisk(const DiskRecord& r) {
  return Write([&]() -> Status {
    return Run(*db_, InsertSql("disks", kDiskColumns), DiskValues(r)).WithContext("insert disk " + r.disk_id);
  });
}

Status SqliteCatalog::UpdateDisk(const DiskRecord& r) {
  return Write([&]() -> Status {
    RETURN_IF_ERROR(Run(*db_, UpdateSql("disks", kDiskColumns), KeyLast(DiskValues(r)))
                        .WithContext("update disk " + r.disk_id));
    if (db_->changes() == 0)
      return NotFound("InvalidDiskId.NotFound", "disk " + r.disk_id + " does not exist");
    return Status::Ok();
  });
}

Result<DiskRecord> SqliteCatalog::GetDisk(const std::string& disk_id) {
  ASSIGN_OR_RETURN(ReadLease reader, Reader());
  ASSIGN_OR_RETURN(
      std::vector<DiskRecord> rows,
      catalog_sql::Rows<DiskRecord>(reader.db(), SelectSql("disks", kDiskColumns) + " WHERE disk_id = ?",
                                    {disk_id}, DecodeDisk<SqliteStatement>));
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
  const WhereClause where = catalog_sql::DiskFilter(q);
  ASSIGN_OR_RETURN(ReadLease reader, Reader());
  return catalog_sql::PageInSql<DiskRecord>(reader.db(), "disks", SelectSql("disks", kDiskColumns), where,
                                            " ORDER BY creation_time DESC, disk_id", q.offset, q.limit,
                                            DecodeDisk<SqliteStatement>);
}

}  // namespace ferry
