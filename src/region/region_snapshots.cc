// RegionImpl: the snapshot requests — DescribeSnapshots, DeleteSnapshot
// (which cancels the creation of a snapshot still progressing). CreateSnapshot
// is in region_disk_snapshots.cc.
#include "region/region_impl.h"
#include "region/region_internal.h"

namespace ferry {

// ---------------------------------------------------------- DescribeSnapshots

Result<Page<SnapshotRecord>> RegionImpl::DescribeSnapshots(const Caller& c,
                                                           const DescribeSnapshotsRequest& r) {
  RETURN_IF_ERROR(ValidatePage(r.page_number, r.page_size));
  if (r.snapshot_ids.size() > 100) {
    return PermissionDenied("InvalidSnapshotIds.Malformed",
                            "The amount of specified snapshot Ids exceeds the limit (" +
                                std::to_string(r.snapshot_ids.size()) + " > 100).");
  }
  SnapshotQuery q;
  q.account_id = c.account_id;
  q.snapshot_ids = r.snapshot_ids;
  // A shared image's recipient may look up its snapshots by id (their sizes),
  // never list them among its own. Their names are the owner's
  // (HideOwnerPrivate), so a SnapshotName filter finds none of them.
  if (r.snapshot_name.empty()) {
    ASSIGN_OR_RETURN(q.also_snapshot_ids, SharedSnapshotIds(c, r.snapshot_ids));
  }
  if (r.status == "progressing" || r.status == "accomplished" || r.status == "failed") {
    q.status = r.status;
  } else if (!r.status.empty() && r.status != "all") {
    return NotFound("InvalidStatus.NotFound",
                    "The specified Status \"" + Echo(r.status) + "\" is not found.");
  }
  q.name = r.snapshot_name;
  q.offset = (r.page_number - 1) * r.page_size;
  q.limit = r.page_size;
  ASSIGN_OR_RETURN(Page<SnapshotRecord> page, catalog_->ListSnapshots(q));
  HideOwnerPrivate(c, page.items);
  return page;
}

// ------------------------------------------------------------- DeleteSnapshot

Status RegionImpl::DeleteSnapshot(const Caller& c, const std::string& snapshot_id, bool force) {
  if (snapshot_id.empty()) return MissingParameter("SnapshotId");
  std::string creating_task;  // the CreateSnapshot task cancelled with it
  RETURN_IF_ERROR(catalog_->Transact([&]() -> Status {
    Result<SnapshotRecord> snap = catalog_->GetSnapshot(snapshot_id);
    if (!snap.ok()) {
      if (snap.status().code() == Code::kNotFound) return SnapshotNotFound(snapshot_id);
      return snap.status();
    }
    if (snap->account_id != c.account_id) return SnapshotNotFound(snapshot_id);
    ImageQuery q;
    q.snapshot_id = snapshot_id;
    q.limit = 1;
    q.count_total = false;
    ASSIGN_OR_RETURN(Page<ImageRecord> users, catalog_->ListImages(q));
    if (!users.items.empty()) {
      return FailedPrecondition(
          "SnapshotCreatedImage",
          "The snapshot has been used to create user defined image(s): " + users.items[0].image_id + ".");
    }
    // Force lets the disks go on without their snapshot: each keeps its
    // base file, which is all a disk reads.
    if (!force) {
      ASSIGN_OR_RETURN(std::vector<std::string> disks, DisksFromSnapshot(snapshot_id));
      if (!disks.empty()) {
        return PermissionDenied("SnapshotCreatedDisk", "The snapshot has been used to create disk(s): " +
                                                           disks[0] + (disks.size() > 1 ? " and others" : "") +
                                                           "; use Force=true to delete it anyway.");
      }
    }
    // A snapshot still being created: deleting it cancels the creation (ECS
    // 4.18). Its task is told in the same transaction, so its commit finds
    // it cancelled and ends Cancelled, whatever it had read.
    if (snap->status == "progressing") {
      TaskQuery tq;
      tq.account_id = c.account_id;
      tq.action = "CreateSnapshot";
      tq.resource_ids = {snapshot_id};
      tq.statuses = {"Processing"};
      ASSIGN_OR_RETURN(Page<TaskRecord> tasks, catalog_->ListTasks(tq));
      for (TaskRecord& t : tasks.items) {
        t.cancel_requested = true;
        RETURN_IF_ERROR(catalog_->UpdateTask(t));
        creating_task = t.task_id;
      }
    }
    return catalog_->DeleteSnapshot(snapshot_id);
  }));
  // Stops the task at its next chunk rather than after the whole disk.
  if (!creating_task.empty()) SignalCancel(creating_task);
  RequestGc();
  return Status::Ok();
}

}  // namespace ferry
