// Schema step of SqliteCatalog for instances and disks (catalog.h
// InstanceRecord, DiskRecord), appended to kSchema in sqlite_catalog.cc.
// Plain portable SQL, like every step.
#pragma once

namespace ferry {

inline constexpr const char* kInstancesSchema = R"sql(
CREATE TABLE instances (
  instance_id TEXT NOT NULL PRIMARY KEY,
  account_id TEXT NOT NULL,
  region_id TEXT NOT NULL,
  name TEXT NOT NULL,
  description TEXT NOT NULL,
  host_name TEXT NOT NULL,
  instance_type TEXT NOT NULL,
  zone_id TEXT NOT NULL,
  status TEXT NOT NULL,
  image_id TEXT NOT NULL,
  user_data TEXT NOT NULL,
  ram_role_name TEXT NOT NULL,
  creation_time INTEGER NOT NULL,
  start_time INTEGER NOT NULL,
  auto_start INTEGER NOT NULL
);
CREATE INDEX instances_account_created ON instances (account_id, creation_time);

CREATE TABLE disks (
  disk_id TEXT NOT NULL PRIMARY KEY,
  account_id TEXT NOT NULL,
  instance_id TEXT NOT NULL,
  image_id TEXT NOT NULL,
  source_snapshot_id TEXT NOT NULL,
  base_key TEXT NOT NULL,
  size_gib INTEGER NOT NULL,
  category TEXT NOT NULL,
  status TEXT NOT NULL,
  disk_type TEXT NOT NULL,
  device TEXT NOT NULL,
  creation_time INTEGER NOT NULL
);
CREATE INDEX disks_instance ON disks (instance_id);
CREATE INDEX disks_account_created ON disks (account_id, creation_time);
)sql";

// Schema step 7: what RunInstances/CreateInstance record beyond the first
// instances table: Tag.N (JSON pairs, as images and snapshots keep them) and
// the billing method with the end of a subscription.
inline constexpr const char* kInstanceTagsAndBillingSchema = R"sql(
ALTER TABLE instances ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE instances ADD COLUMN instance_charge_type TEXT NOT NULL DEFAULT 'PostPaid';
ALTER TABLE instances ADD COLUMN expired_time INTEGER NOT NULL DEFAULT 0;
)sql";

}  // namespace ferry
