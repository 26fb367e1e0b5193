// DiskStore: the disks of one region on the local file system, after
// OpenStack Nova's libvirt image cache. Each image an instance uses is
// materialized once as a read-only raw *base* file; each disk is a small
// qcow2 *overlay* on it, so a hundred instances of one image cost one base
// file plus a few hundred KiB each. The layout under the root, the crash and
// locking rules are in disks.md (next to this file).
//
// The layer keeps no records: which disks exist and which bases the catalog
// still needs are the caller's (the region's catalog); GC and fsck take them
// as arguments. Every file name is built from a validated disk id ("d-" + 20
// [a-z0-9]) or base key (64 hex, BaseKeyFor), and every file is opened
// beneath the root without following symlinks.
//
// Threading: thread-safe; any method may be called from any thread. Work on
// one base (materializing it, creating a disk on it, removing it) is
// serialized by an exclusive flock on locks/<key>.lock; reading a disk holds
// its base's lock shared. One DiskStore per root per process; other processes
// (fsck, gc) may open the same root: the locks are flocks, so they see them.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/fs_util.h"
#include "common/status.h"
#include "store/chunk_store.h"
#include "store/ingest.h"
#include "store/manifest.h"

namespace ferry {

struct BaseInfo {
  std::string key;             // BaseKeyFor(the manifest)
  uint64_t size = 0;           // bytes (the manifest's logical size)
  bool newly_written = false;  // this call materialized it
};

struct DiskInfo {
  std::string disk_id;
  uint64_t size = 0;                    // virtual size in bytes
  std::optional<std::string> base_key;  // nullopt: an empty disk, no base
  uint64_t allocated_bytes = 0;         // st_blocks * 512 of the overlay file
};

// What fsck found, each list sorted. Names are disk ids, base keys, or for
// temps the file name in tmp/.
struct DiskFsckReport {
  uint64_t disks_present = 0;               // overlay files in disks/
  uint64_t bases_present = 0;               // base files in bases/
  std::vector<std::string> orphan_disks;    // overlay files the catalog does not know
  std::vector<std::string> missing_disks;   // disks the catalog knows with no overlay file
  std::vector<std::string> orphan_bases;    // bases neither the catalog lists nor a known disk uses
  std::vector<std::string> missing_bases;   // "<disk id> -> <key>": a disk whose base file is absent
  std::vector<std::string> bad_disks;       // "<disk id>: why": an overlay whose header fails the checks
  std::vector<std::string> leftover_temps;  // temp files no live writer holds (Open removes them)
  std::vector<std::string> strays;          // "<dir>/<name>": names the layout does not produce
  bool clean() const {
    return orphan_disks.empty() && missing_disks.empty() && orphan_bases.empty() && missing_bases.empty() &&
           bad_disks.empty() && leftover_temps.empty() && strays.empty();
  }
};

class DiskStore final {
 public:
  // Creates `root` and its folders if needed (0700) and removes temp files
  // left by a writer that died (those whose flock nobody holds). With
  // `check_only` (`ferry fsck`) it changes nothing: no folder is made (a
  // missing one is kNotFound), no temp removed; only Fsck and the reads may
  // be used then.
  static Result<std::unique_ptr<DiskStore>> Open(const std::string& root, bool check_only = false);
  ~DiskStore();
  DiskStore(const DiskStore&) = delete;
  DiskStore& operator=(const DiskStore&) = delete;

  const std::string& root() const { return root_; }

  // ---- Bases ----

  // The base file of the image `m` describes, materialized from `store` if it
  // does not exist yet: chunks are read through ChunkStore::Get (verified
  // against their ids), holes stay holes, the file is written as a temp in
  // tmp/, fsynced, made 0444 and renamed into bases/ (then bases/ fsynced).
  // Concurrent calls for one manifest write it once; the others wait and
  // find it. kDataLoss if a chunk fails verification; nothing is left behind.
  Result<BaseInfo> EnsureBase(const Manifest& m, ChunkStore& store,
                              const std::atomic<bool>* cancel = nullptr);
  // Whether the base file exists (a complete one: partial bases only ever
  // exist as temps).
  Result<bool> HasBase(const std::string& key);
  // Keys of the base files present, sorted.
  Result<std::vector<std::string>> ListBases();

  // ---- Disks ----

  // A new disk `disk_id` of `size_bytes` (a multiple of 512, at least the
  // image's size) on the base of image `m`, materialized first if needed,
  // under the base's lock so that no GC can remove the base in between.
  // kAlreadyExists if the disk exists; kInvalidArgument for a bad id or size.
  Result<DiskInfo> CreateDiskFromImage(const std::string& disk_id, const Manifest& m, ChunkStore& store,
                                       uint64_t size_bytes, const std::atomic<bool>* cancel = nullptr);
  // The same on an existing base (kNotFound if it is absent).
  Result<DiskInfo> CreateDiskOnBase(const std::string& disk_id, const std::string& base_key,
                                    uint64_t size_bytes, const std::atomic<bool>* cancel = nullptr);
  // An empty qcow2 disk with no base (a data disk).
  Result<DiskInfo> CreateEmptyDisk(const std::string& disk_id, uint64_t size_bytes,
                                   const std::atomic<bool>* cancel = nullptr);
  // Removes the disk's overlay. True if it existed, false if it did not (so a
  // repeated delete is not an error). The base stays (RemoveUnusedBases).
  Result<bool> DeleteDisk(const std::string& disk_id);
  // Size, base and allocation of a disk, from its overlay's header (checked).
  Result<DiskInfo> DescribeDisk(const std::string& disk_id);
  // Ids of the disks present, sorted.
  Result<std::vector<std::string>> ListDisks();
  // Absolute path of a disk's overlay, for the hypervisor (which opens it as
  // qcow2 with backing format raw, both recorded in the overlay).
  Result<std::string> DiskPath(const std::string& disk_id) const;

  // ---- Reading a disk ----

  // Writes the disk's current view (overlay over base) as a sparse raw file
  // at `dst_path`, which must not exist: built as `dst_path.tmp-<random>`,
  // fsynced and renamed. For `ferry disk export`; `dst_path` is the
  // operator's, not a tenant's.
  Status ExportRaw(const std::string& disk_id, const std::string& dst_path,
                   const std::atomic<bool>* cancel = nullptr);
  // The disk's current view, ingested into `store` through IngestRawFd
  // (store/ingest.h): chunks already stored (the base's, with the same
  // opts.scope) are deduplicated, so only chunks the guest changed are new.
  //
  // `base`, when given, is the manifest the disk's base file was made from
  // (BaseKeyFor(*base) must be the disk's base key, else it is ignored),
  // with chunk ids in opts.scope; a disk with no base needs none. Then only the chunks that hold a cluster
  // the overlay itself holds (Qcow2Map) are read and ingested; every other
  // chunk is the base's entry, pinned through opts.pin and checked present
  // in the store (read from the base file if the store lost it). The cost
  // follows what the guest wrote, not the disk's size. Without `base`, or
  // for an overlay layout Qcow2Map leaves to qemu-img, the whole view is
  // converted by qemu-img. Either way the raw view is a temp file in tmp/,
  // unlinked before this returns, and the manifest is the same.
  Result<Manifest> SnapshotDisk(const std::string& disk_id, ChunkStore& store, const IngestOptions& opts,
                                IngestStats* stats = nullptr, const Manifest* base = nullptr);

  // ---- Garbage collection and fsck ----

  // Removes every base file whose key is not in `keep` and that no overlay
  // in disks/ (or being created in tmp/) uses. A base busy under its lock
  // (being read or used) is skipped this time; when no overlay uses it
  // either, its key goes into `*busy` (if given), for the caller to try
  // again once the holder lets go. Returns the removed keys.
  Result<std::vector<std::string>> RemoveUnusedBases(const std::set<std::string>& keep,
                                                     std::vector<std::string>* busy = nullptr);

  // Compares the files with what the catalog knows (`known_disks`: disk ids,
  // `known_bases`: base keys it still needs). Changes nothing.
  Result<DiskFsckReport> Fsck(const std::set<std::string>& known_disks,
                              const std::set<std::string>& known_bases);

 private:
  class BaseLock;
  struct TempFile;

  DiskStore(std::string root, UniqueFd root_fd, UniqueFd bases, UniqueFd disks, UniqueFd tmp, UniqueFd locks);

  Result<BaseLock> LockBase(const std::string& key, bool exclusive, bool wait);
  Result<TempFile> CreateTemp(const std::string& stem);
  Status RemoveLeftoverTemps();
  // Under the base's exclusive lock.
  Result<BaseInfo> EnsureBaseLocked(const std::string& key, const Manifest& m, ChunkStore& store,
                                    const std::atomic<bool>* cancel);
  Result<uint64_t> BaseSizeLocked(const std::string& key);
  Result<DiskInfo> CreateDiskLocked(const std::string& disk_id, const std::optional<std::string>& base_key,
                                    uint64_t base_size, uint64_t size_bytes, const std::atomic<bool>* cancel);
  // Opens the overlay read-only and checks its header.
  struct OpenDisk;
  Result<OpenDisk> OpenDiskChecked(const std::string& disk_id);
  // Writes the disk's raw view into the (empty) file `out` at `out_path`.
  Status ConvertLocked(const OpenDisk& disk, int out_fd, const std::string& out_path,
                       const std::atomic<bool>* cancel);
  // SnapshotDisk from `base` (the disk's base manifest) and the overlay's
  // cluster map, under the base's shared lock.
  Result<Manifest> SnapshotChangedLocked(const OpenDisk& disk, const Manifest& base, ChunkStore& store,
                                         const IngestOptions& opts, IngestStats* stats);
  Result<std::vector<std::string>> ListDir(int dir_fd);
  // Base keys the overlays in disks/ and tmp/ use: (disk id or temp name, key).
  Result<std::vector<std::pair<std::string, std::string>>> OverlayBackings(std::vector<std::string>* bad);

  // A new overlay is the same bytes for every disk of one (backing name,
  // size): qemu-img formats the first, later ones copy its bytes, sparing a
  // process per disk. At most kMaxTemplates entries of at most
  // kMaxTemplateBytes each.
  static constexpr size_t kMaxTemplates = 64;
  static constexpr uint64_t kMaxTemplateBytes = 1 << 20;
  std::optional<std::vector<uint8_t>> FindTemplate(const std::string& backing, uint64_t size);
  void KeepTemplate(const std::string& backing, uint64_t size, int fd);
  std::mutex templates_mu_;
  std::map<std::pair<std::string, uint64_t>, std::vector<uint8_t>> templates_;  // guarded by templates_mu_

  const std::string root_;  // absolute
  const UniqueFd root_fd_;
  const UniqueFd bases_fd_;
  const UniqueFd disks_fd_;
  const UniqueFd tmp_fd_;
  const UniqueFd locks_fd_;
};

}  // namespace ferry
