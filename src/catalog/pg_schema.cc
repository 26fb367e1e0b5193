#include "catalog/pg_schema.h"

#include "catalog/catalog_rows.h"

namespace ferry {

const std::vector<std::string>& PgSchema() {
  static const std::vector<std::string> steps = {
      // Version 1. A nonce's digest (NonceCache::DigestOf) until the request
      // that carried it fails its timestamp check.
      R"sql(
CREATE TABLE nonces (
  digest BYTEA NOT NULL PRIMARY KEY,
  expires_at BIGINT NOT NULL
);
CREATE INDEX nonces_expiry ON nonces (expires_at);
)sql",
      // Version 2. The region's catalog: the tables of SqliteCatalog's
      // schema as it stands at its version 8, column for column
      // (PgSchemaTest checks that the two name the same tables and columns).
      R"sql(
CREATE TABLE images (
  image_id TEXT NOT NULL PRIMARY KEY,
  account_id TEXT NOT NULL,
  name TEXT NOT NULL,
  description TEXT NOT NULL,
  status TEXT NOT NULL,
  progress BIGINT NOT NULL,
  os_type TEXT NOT NULL,
  os_name TEXT NOT NULL,
  platform TEXT NOT NULL,
  architecture TEXT NOT NULL,
  boot_mode TEXT NOT NULL,
  image_family TEXT NOT NULL,
  image_version TEXT NOT NULL,
  license_type TEXT NOT NULL,
  resource_group_id TEXT NOT NULL,
  size_gib BIGINT NOT NULL,
  disks TEXT NOT NULL,
  tags TEXT NOT NULL,
  is_copied BIGINT NOT NULL,
  source_region_id TEXT NOT NULL,
  source_image_id TEXT NOT NULL,
  failure_reason TEXT NOT NULL,
  creation_time BIGINT NOT NULL
);
CREATE UNIQUE INDEX images_account_name ON images (account_id, name) WHERE name <> '';
CREATE INDEX images_owner_status_order ON images (account_id, status, creation_time DESC, image_id);
CREATE INDEX images_owner_order ON images (account_id, creation_time DESC, image_id);

CREATE TABLE image_counts (
  account_id TEXT NOT NULL,
  status TEXT NOT NULL,
  n BIGINT NOT NULL,
  PRIMARY KEY (account_id, status)
);

CREATE TABLE image_snapshots (
  snapshot_id TEXT NOT NULL,
  image_id TEXT NOT NULL,
  creation_time BIGINT NOT NULL,
  PRIMARY KEY (snapshot_id, image_id)
);
CREATE INDEX image_snapshots_order ON image_snapshots (snapshot_id, creation_time DESC, image_id);
CREATE INDEX image_snapshots_image ON image_snapshots (image_id);

CREATE TABLE image_shares (
  image_id TEXT NOT NULL,
  account_id TEXT NOT NULL,
  shared_time BIGINT NOT NULL,
  PRIMARY KEY (image_id, account_id)
);
CREATE INDEX image_shares_account ON image_shares (account_id);

CREATE TABLE snapshots (
  snapshot_id TEXT NOT NULL PRIMARY KEY,
  account_id TEXT NOT NULL,
  name TEXT NOT NULL,
  description TEXT NOT NULL,
  status TEXT NOT NULL,
  progress BIGINT NOT NULL,
  logical_size BIGINT NOT NULL,
  source_disk_size_gib BIGINT NOT NULL,
  source_disk_type TEXT NOT NULL,
  usage TEXT NOT NULL,
  encrypted BIGINT NOT NULL,
  kms_key_id TEXT NOT NULL,
  source_region_id TEXT NOT NULL,
  source_snapshot_id TEXT NOT NULL,
  content_digest TEXT NOT NULL,
  tags TEXT NOT NULL,
  creation_time BIGINT NOT NULL,
  last_modified_time BIGINT NOT NULL,
  manifest BYTEA,
  source_disk_id TEXT NOT NULL DEFAULT ''
);
CREATE INDEX snapshots_account_created ON snapshots (account_id, creation_time);

CREATE TABLE tasks (
  task_id TEXT NOT NULL PRIMARY KEY,
  account_id TEXT NOT NULL,
  action TEXT NOT NULL,
  status TEXT NOT NULL,
  progress BIGINT NOT NULL,
  resource_id TEXT NOT NULL,
  params TEXT NOT NULL,
  error_code TEXT NOT NULL,
  error_message TEXT NOT NULL,
  cancel_requested BIGINT NOT NULL,
  creation_time BIGINT NOT NULL,
  finished_time BIGINT NOT NULL,
  attempts BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX tasks_account_created ON tasks (account_id, creation_time);
CREATE INDEX tasks_status ON tasks (status);

CREATE TABLE client_tokens (
  account_id TEXT NOT NULL,
  action TEXT NOT NULL,
  token TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  result_id TEXT NOT NULL,
  PRIMARY KEY (account_id, action, token)
);

CREATE TABLE copy_leases (
  source_image_id TEXT PRIMARY KEY,
  copy_region_id TEXT NOT NULL,
  copy_image_id TEXT NOT NULL,
  creation_time BIGINT NOT NULL
);

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
  creation_time BIGINT NOT NULL,
  start_time BIGINT NOT NULL,
  auto_start BIGINT NOT NULL,
  tags TEXT NOT NULL DEFAULT '[]',
  instance_charge_type TEXT NOT NULL DEFAULT 'PostPaid',
  expired_time BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX instances_account_created ON instances (account_id, creation_time);

CREATE TABLE disks (
  disk_id TEXT NOT NULL PRIMARY KEY,
  account_id TEXT NOT NULL,
  instance_id TEXT NOT NULL,
  image_id TEXT NOT NULL,
  source_snapshot_id TEXT NOT NULL,
  base_key TEXT NOT NULL,
  size_gib BIGINT NOT NULL,
  category TEXT NOT NULL,
  status TEXT NOT NULL,
  disk_type TEXT NOT NULL,
  device TEXT NOT NULL,
  creation_time BIGINT NOT NULL
);
CREATE INDEX disks_instance ON disks (instance_id);
CREATE INDEX disks_account_created ON disks (account_id, creation_time);
)sql",
      // Version 3. PgCatalog counts a listing's matches in its snapshot;
      // image_counts (SqliteCatalog's running totals) would be one more row
      // every write of the region locks.
      R"sql(
DROP TABLE image_counts;
)sql",
      // Version 4. The account directory (accounts, AccessKeys, large-copy
      // allowances) that every node of the region reads to authenticate a
      // request and an operator writes with `ferry account` commands.
      R"sql(
CREATE TABLE accounts (
  account_id TEXT NOT NULL PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  is_root BIGINT NOT NULL,
  creation_time BIGINT NOT NULL
);
CREATE TABLE access_keys (
  access_key_id TEXT NOT NULL PRIMARY KEY,
  access_key_secret TEXT NOT NULL,
  account_id TEXT NOT NULL REFERENCES accounts (account_id),
  enabled BIGINT NOT NULL,
  creation_time BIGINT NOT NULL
);
CREATE INDEX access_keys_account ON access_keys (account_id);
CREATE TABLE large_copy_allowances (
  account_id TEXT NOT NULL REFERENCES accounts (account_id),
  image_id TEXT NOT NULL,
  PRIMARY KEY (account_id, image_id)
);
)sql",
      // Version 5. Task leases (catalog.h ClaimTask): which node runs a
      // task, until when.
      catalog_sql::kTaskLeaseSchemaStep,
      // Version 6. Copy slots (catalog.h TakeCopySlot): the region-wide
      // running-copies limit.
      catalog_sql::kCopySlotSchemaStep,
      // Version 7. Chunk pins and GC passes (catalog.h PinChunk).
      catalog_sql::kChunkPinSchemaStep,
      // Version 8. Listing indexes in listing order: PgCatalog::ListImages
      // orders by image_id COLLATE "C" (byte order, as SQLite), which an
      // index in the database's collation cannot give.
      R"sql(
DROP INDEX images_owner_order;
DROP INDEX images_owner_status_order;
CREATE INDEX images_owner_order ON images (account_id, creation_time DESC, image_id COLLATE "C");
CREATE INDEX images_owner_status_order ON images (account_id, status, creation_time DESC, image_id COLLATE "C");
)sql",
  };
  return steps;
}

}  // namespace ferry
