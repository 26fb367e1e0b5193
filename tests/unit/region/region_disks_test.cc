// RegionImpl's base-file collection (region_disks.cc): a base file no disk
// needs any more goes, also when a reader held it at the moment its last disk
// was deleted — a disk snapshot of that disk (the sweep when the snapshot
// ends) or another process (`ferry disk export`: the retry with backoff).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>

#include <chrono>

#include "region/disks/disk_layout.h"
#include "region/subprocess.h"
#include "unit/region/region_fixture.h"

namespace ferry {
namespace {

class RegionDisksTest : public RegionFixture {
 protected:
  void SetUp() override { SetUpWithBaseImage(); }
  std::vector<std::string> Bases() {
    Result<std::vector<std::string>> keys = region_->disk_store().ListBases();
    EXPECT_TRUE(keys.ok()) << keys.status().ToString();
    return keys.ok() ? *keys : std::vector<std::string>{};
  }
};

TEST_F(RegionDisksTest, ABaseASnapshotWasReadingGoesWhenTheSnapshotEnds) {
  const std::vector<std::string> instances = RunAndWait(Run(1));
  ASSERT_EQ(instances.size(), 1u);
  const std::string& instance = instances[0];
  const std::string disk_id = SystemDisk(instance).disk_id;
  Result<std::string> path = region_->disk_store().DiskPath(disk_id);
  ASSERT_TRUE(path.ok());
  // The guest writes a chunk, so the snapshot ingests one and pins it.
  auto wrote = RunProcess({"qemu-io", "-f", "qcow2", "-c", "write -P 0xab 0 4M", *path});
  ASSERT_TRUE(wrote.ok() && wrote->exit_code == 0) << wrote->stderr_text;
  ASSERT_EQ(Bases().size(), 1u);

  // The image the tester made: the instance is deleted while CreateImage
  // reads its disk (the base's lock held shared).
  CreateImageRequest create;
  create.instance_id = instance;
  create.image_name = "while-reading";
  gate_.Arm();
  Result<std::string> image = region_->CreateImage(kAlice, create);
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  ASSERT_TRUE(gate_.WaitArrived());
  ASSERT_TRUE(region_->DeleteInstance(kAlice, instance, /*force=*/true, false).ok());
  EXPECT_EQ(Bases().size(), 1u) << "busy: the snapshot still reads it";
  gate_.Open();
  ASSERT_TRUE(WaitFor([&] { return Image(*image).status == "Available"; })) << Image(*image).status;
  EXPECT_TRUE(WaitFor([&] { return Bases().empty(); }, std::chrono::seconds(20)))
      << "no disk needs base " << Bases().at(0) << ", yet it stays";
  FsckReport report;
  ASSERT_TRUE(region_->Fsck(&report).ok());
  EXPECT_TRUE(report.problems.empty()) << report.problems.at(0);
}

TEST_F(RegionDisksTest, ABaseAnotherProcessWasReadingGoesOnceItLetsGo) {
  const std::vector<std::string> instances = RunAndWait(Run(1));
  ASSERT_EQ(instances.size(), 1u);
  const std::string& instance = instances[0];
  const std::vector<std::string> bases = Bases();
  ASSERT_EQ(bases.size(), 1u);
  // `ferry disk export` in another process holds the base's lock shared.
  const std::string lock = region_->disk_store().root() + "/" + kLocksDir + "/" + LockFileName(bases[0]);
  UniqueFd held(::open(lock.c_str(), O_RDWR | O_CLOEXEC));
  ASSERT_TRUE(held.valid()) << lock;
  ASSERT_EQ(::flock(held.get(), LOCK_SH), 0);
  ASSERT_TRUE(region_->DeleteInstance(kAlice, instance, /*force=*/true, false).ok());
  EXPECT_EQ(Bases().size(), 1u);
  held = UniqueFd();
  EXPECT_TRUE(WaitFor([&] { return Bases().empty(); }, std::chrono::seconds(20)))
      << "no disk needs base " << bases[0] << ", yet it stays";
}

}  // namespace
}  // namespace ferry
