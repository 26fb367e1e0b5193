// ImportImage against crafted images (one per door of
// ../shared/reference/untrusted-images.md section 1) and the inspect/convert
// race, driven deterministically through RegionHooks::after_image_inspected.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/hash.h"
#include "region/subprocess.h"
#include "unit/region/region_fixture.h"

namespace ferry {
namespace {

// What the host file holds: must never appear in an image.
const std::string kSecretLine = "ferry-host-secret-0123456789abcdef\n";

class ImageImportTest : public RegionFixture {
 protected:
  void SetUp() override {
    RegionFixture::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(MakeDirs(dir_ + "/host").ok());
    secret_ = dir_ + "/host/root-credentials.json";
    std::string secret;
    while (secret.size() < kMiB) secret += kSecretLine;
    secret.resize(kMiB);
    ASSERT_TRUE(WriteFileAtomic(secret_, secret).ok());
  }

  void Open() {
    RegionConfig c = Config();
    c.task_threads = 1;
    c.ingest_threads = 2;
    RegionHooks hooks;
    hooks.after_image_inspected = [this](const std::string& task, size_t disk) {
      if (after_inspected_) after_inspected_(task, disk);
    };
    OpenRegion(c, std::move(hooks));
  }

  std::string Object(const std::string& name) { return dir_ + "/oss/alice-in/" + name; }

  // qemu-img create into alice-in/<name>.
  std::string Create(const std::string& name, const std::string& format, const std::string& size,
                     std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"qemu-img", "create", "-q", "-f", format};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(Object(name));
    args.push_back(size);
    Result<ProcessResult> r = RunProcess(args);
    EXPECT_TRUE(r.ok() && r->exit_code == 0) << (r.ok() ? DescribeFailure(args, *r) : r.status().ToString());
    return Object(name);
  }

  // A qcow2 holding `data` at offset 0 (written through qemu-io-free means:
  // convert from a raw file).
  std::string QcowWithData(const std::string& name, const std::string& data) {
    std::string raw = dir_ + "/host/" + name + ".src";
    EXPECT_TRUE(WriteFileAtomic(raw, data).ok());
    std::vector<std::string> args = {"qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, Object(name)};
    Result<ProcessResult> r = RunProcess(args);
    EXPECT_TRUE(r.ok() && r->exit_code == 0);
    return Object(name);
  }

  static void Patch(const std::string& path, uint64_t offset, const std::string& bytes) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    ASSERT_TRUE(fd.valid());
    ASSERT_TRUE(
        PwriteFull(fd.get(), reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), offset, path)
            .ok());
  }

  // Imports alice-in/<object> as `format`; returns the finished task.
  TaskRecord Import(const std::string& object, const std::string& format, std::string* image_id = nullptr) {
    ImportImageRequest req;
    req.disks.push_back(ImportDisk{"alice-in", object, format, 0});
    req.image_name = "img-" + RandomHex(6);
    Result<ImportImageResult> r = region_->ImportImage(kAlice, req);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return TaskRecord{};
    if (image_id != nullptr) *image_id = r->image_id;
    return WaitTask(kAlice, r->task_id);
  }

  // The import failed as an invalid image, with a message naming the object
  // and no host path.
  void ExpectMalformed(const std::string& object, const std::string& format, const std::string& why) {
    SCOPED_TRACE(object + " as " + format);
    TaskRecord t = Import(object, format);
    EXPECT_EQ(t.status, "Failed");
    EXPECT_EQ(t.error_code, "InvalidImageFormat.Malformed") << t.error_message;
    EXPECT_NE(t.error_message.find(why), std::string::npos) << t.error_message;
    EXPECT_NE(t.error_message.find("alice-in/" + object), std::string::npos) << t.error_message;
    EXPECT_EQ(t.error_message.find(dir_), std::string::npos) << "host path leaks: " << t.error_message;
    EXPECT_EQ(t.error_message.find("/etc/"), std::string::npos) << "host path leaks: " << t.error_message;
    EXPECT_EQ(t.error_message.find("/proc/"), std::string::npos) << "host path leaks: " << t.error_message;
  }

  // Exports `image_id` as raw and returns its bytes.
  std::string ExportRaw(const std::string& image_id) {
    Result<std::string> task_id =
        region_->ExportImage(kAlice, ExportImageRequest{image_id, "alice-out", "exp", "raw"});
    EXPECT_TRUE(task_id.ok()) << task_id.status().ToString();
    if (!task_id.ok()) return "";
    TaskRecord t = WaitTask(kAlice, *task_id);
    EXPECT_EQ(t.status, "Finished") << t.error_message;
    Result<std::string> path =
        oss_->PathForRead(kAlice.account_id, "alice-out", "exp_" + image_id + "_" + *task_id + ".raw");
    EXPECT_TRUE(path.ok()) << path.status().ToString();
    if (!path.ok()) return "";
    Result<std::string> bytes = ReadFileToString(*path);
    return bytes.ok() ? *bytes : "";
  }

  std::string secret_;
  std::function<void(const std::string&, size_t)> after_inspected_;
};

TEST_F(ImageImportTest, EveryDoorToAHostFileIsRefused) {
  Open();
  Create("backing.qcow2", "qcow2", "1M", {"-u", "-b", secret_, "-F", "raw"});
  ExpectMalformed("backing.qcow2", "QCOW2", "backing file");
  ExpectMalformed("backing.qcow2", "", "backing file");
  Create("json.qcow2", "qcow2", "1M",
         {"-u", "-b", R"(json:{"driver":"raw","file":{"driver":"file","filename":")" + secret_ + R"("}})",
          "-F", "raw"});
  ExpectMalformed("json.qcow2", "QCOW2", "backing file");
  Create("datafile.qcow2", "qcow2", "1M", {"-o", "data_file=" + secret_ + ".data"});
  ExpectMalformed("datafile.qcow2", "QCOW2", "external data file");
  std::string bits = Create("bits.qcow2", "qcow2", "1M");
  Patch(bits, 79, std::string(1, '\x20'));
  ExpectMalformed("bits.qcow2", "QCOW2", "incompatible feature bits");
  std::string enc = Create("enc.qcow2", "qcow2", "1M");
  Patch(enc, 35, std::string(1, '\x01'));
  ExpectMalformed("enc.qcow2", "QCOW2", "encrypted");
  std::string bomb = Create("bomb.qcow2", "qcow2", "1M");
  Patch(bomb, 36, std::string("\xff\xff\xff\xff", 4));
  ExpectMalformed("bomb.qcow2", "QCOW2", "L1 table");

  ASSERT_TRUE(WriteFileAtomic(Object("desc.vmdk"),
                              "# Disk DescriptorFile\nversion=1\ncreateType=\"monolithicFlat\"\n"
                              "RW 2048 FLAT \"" +
                                  secret_ + "\" 0\n")
                  .ok());
  ExpectMalformed("desc.vmdk", "VMDK", "descriptor files are not supported");
  Create("flat.vmdk", "vmdk", "1M", {"-o", "subformat=monolithicFlat"});
  ExpectMalformed("flat.vmdk", "VMDK", "descriptor files are not supported");
  Create("split.vmdk", "vmdk", "1M", {"-o", "subformat=twoGbMaxExtentSparse"});
  ExpectMalformed("split.vmdk", "", "descriptor files are not supported");
  std::string extent = Create("extent.vmdk", "vmdk", "1M");
  std::string desc = "# Disk DescriptorFile\nversion=1\ncreateType=\"monolithicSparse\"\nRW 2048 FLAT \"" +
                     secret_ + "\" 0\n";
  desc.resize(1024, '\0');
  Patch(extent, 512, desc);
  ExpectMalformed("extent.vmdk", "VMDK", "extent naming another file");

  std::string diff = Create("diff.vhd", "vpc", "1M", {"-o", "subformat=fixed"});
  Patch(diff, std::filesystem::file_size(diff) - 512 + 63, std::string(1, '\x04'));
  ExpectMalformed("diff.vhd", "VHD", "differencing VHD");
  Create("q.qed", "qed", "1M");
  ExpectMalformed("q.qed", "", "QED images are not supported");

  ASSERT_TRUE(WriteFileAtomic(Object("plain.raw"), std::string(kMiB, 'x')).ok());
  ExpectMalformed("plain.raw", "QCOW2", "the image is raw, not QCOW2");
}

TEST_F(ImageImportTest, AnotherFormatClaimedAsRawOrNoDiskAtAllFailsTheTaskSayingWhy) {
  Open();
  Create("plain.qcow2", "qcow2", "1M");
  ExpectMalformed("plain.qcow2", "RAW", "the image is qcow2, not RAW");
  Create("backing.qcow2", "qcow2", "1M", {"-u", "-b", secret_, "-F", "raw"});
  ExpectMalformed("backing.qcow2", "RAW", "backing file");
  ASSERT_TRUE(WriteFileAtomic(Object("empty.raw"), "").ok());
  ExpectMalformed("empty.raw", "", "the file is empty (0 bytes)");
  ASSERT_TRUE(WriteFileAtomic(Object("note.txt"), "hello\n").ok());
  ExpectMalformed("note.txt", "RAW", "its size, 6 bytes, is not a whole number of 512-byte sectors");
  // The failed image says why too.
  std::string image_id;
  TaskRecord t = Import("note.txt", "", &image_id);
  ASSERT_EQ(t.status, "Failed");
  DescribeImagesRequest req;
  req.image_id = image_id;
  req.statuses = {"CreateFailed"};
  Result<Page<ImageRecord>> images = region_->DescribeImages(kAlice, req);
  ASSERT_TRUE(images.ok()) << images.status().ToString();
  ASSERT_EQ(images->items.size(), 1u);
  EXPECT_NE(images->items[0].failure_reason.find("InvalidImageFormat.Malformed: disk image OSS object "
                                                 "alice-in/note.txt: its size, 6 bytes"),
            std::string::npos)
      << images->items[0].failure_reason;
}

TEST_F(ImageImportTest, ImportedDisksRecordTheDetectedFormatAndContent) {
  Open();
  std::string raw = dir_ + "/host/fs.raw";
  ASSERT_TRUE(WriteFileAtomic(raw, "").ok());
  std::filesystem::resize_file(raw, 32 * kMiB);
  std::vector<std::string> mkfs = {"mkfs.ext4", "-qF", raw};
  Result<ProcessResult> made = RunProcess(mkfs);
  ASSERT_TRUE(made.ok() && made->exit_code == 0);
  std::vector<std::string> convert = {"qemu-img", "convert", "-f", "raw",
                                      "-O",       "qcow2",   raw,  Object("fs.qcow2")};
  Result<ProcessResult> converted = RunProcess(convert);
  ASSERT_TRUE(converted.ok() && converted->exit_code == 0);
  ASSERT_EQ(::rename(raw.c_str(), Object("fs.raw").c_str()), 0);
  for (const auto& [object, format] :
       std::vector<std::pair<std::string, std::string>>{{"fs.raw", "raw"}, {"fs.qcow2", "qcow2"}}) {
    std::string image_id;
    TaskRecord t = Import(object, "", &image_id);
    ASSERT_EQ(t.status, "Finished") << t.error_message;
    DescribeImagesRequest req;
    req.image_id = image_id;
    Result<Page<ImageRecord>> images = region_->DescribeImages(kAlice, req);
    ASSERT_TRUE(images.ok() && images->items.size() == 1u);
    const DiskMapping& disk = images->items[0].disks[0];
    EXPECT_EQ(disk.detected_format, format) << object;
    // A qcow2's content is read from the converted disk, not the container.
    EXPECT_EQ(disk.detected_content, "ext4") << object;
  }
}

TEST_F(ImageImportTest, SwappingTheObjectAfterInspectionNeverImportsTheHostFile) {
  Open();
  const std::string good = std::string(kMiB, 'g');
  QcowWithData("disk.qcow2", good);
  // The attacker's replacement: same name, a qcow2 whose backing file is the
  // host secret, published by rename exactly between inspect and convert.
  std::string evil = dir_ + "/host/evil.qcow2";
  std::vector<std::string> args = {"qemu-img", "create", "-q", "-f",  "qcow2", "-u",
                                   "-b",       secret_,  "-F", "raw", evil,    "1M"};
  Result<ProcessResult> made = RunProcess(args);
  ASSERT_TRUE(made.ok() && made->exit_code == 0);
  int swaps = 0;
  after_inspected_ = [&](const std::string&, size_t disk) {
    EXPECT_EQ(disk, 0u);
    ASSERT_EQ(::rename(evil.c_str(), Object("disk.qcow2").c_str()), 0);
    ++swaps;
  };
  std::string image_id;
  TaskRecord t = Import("disk.qcow2", "QCOW2", &image_id);
  EXPECT_EQ(swaps, 1);
  if (t.status == "Finished") {
    std::string exported = ExportRaw(image_id);
    EXPECT_EQ(exported, good);
    EXPECT_EQ(exported.find(kSecretLine), std::string::npos);
  } else {
    // Replacing the name unlinked the inspected inode (its ctime moved): the
    // import refuses rather than guess.
    EXPECT_EQ(t.status, "Failed");
    EXPECT_EQ(t.error_code, "InvalidImageFormat.Malformed");
    EXPECT_NE(t.error_message.find("changed while it was being imported"), std::string::npos)
        << t.error_message;
    EXPECT_EQ(t.error_message.find(dir_), std::string::npos) << t.error_message;
  }
  // Whatever the outcome, no snapshot of the region holds the host file.
  for (const std::string status : {"Available", "Creating", "CreateFailed"}) {
    DescribeImagesRequest req;
    req.statuses = {status};
    Result<Page<ImageRecord>> page = region_->DescribeImages(kAlice, req);
    ASSERT_TRUE(page.ok());
    for (const ImageRecord& img : page->items) {
      if (img.status != "Available") continue;
      EXPECT_EQ(ExportRaw(img.image_id).find(kSecretLine), std::string::npos);
    }
  }
}

TEST_F(ImageImportTest, SwappingARawObjectAfterInspectionNeverImportsTheNewBytes) {
  Open();
  const std::string good = std::string(2 * kMiB, 'g');
  ASSERT_TRUE(WriteFileAtomic(Object("disk.raw"), good).ok());
  after_inspected_ = [&](const std::string&, size_t) {
    std::string other = dir_ + "/host/other.raw";
    ASSERT_TRUE(WriteFileAtomic(other, std::string(2 * kMiB, 'e')).ok());
    ASSERT_EQ(::rename(other.c_str(), Object("disk.raw").c_str()), 0);
  };
  std::string image_id;
  TaskRecord t = Import("disk.raw", "RAW", &image_id);
  if (t.status == "Finished") {
    EXPECT_EQ(ExportRaw(image_id), good);
  } else {
    EXPECT_EQ(t.error_code, "InvalidImageFormat.Malformed") << t.error_message;
  }
}

TEST_F(ImageImportTest, WritingTheInspectedFileInPlaceFailsTheImport) {
  // Only the operator can do this (Ferry never writes a published object in
  // place), but the fstat comparison catches it.
  Open();
  std::string path = QcowWithData("disk.qcow2", std::string(kMiB, 'g'));
  after_inspected_ = [&](const std::string&, size_t) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
    ASSERT_TRUE(fd.valid());
    ASSERT_EQ(::write(fd.get(), "x", 1), 1);
  };
  TaskRecord t = Import("disk.qcow2", "QCOW2");
  EXPECT_EQ(t.status, "Failed");
  EXPECT_NE(t.error_message.find("changed while it was being imported"), std::string::npos)
      << t.error_message;
}

TEST_F(ImageImportTest, SymlinkedObjectsAreNotFollowed) {
  Open();
  ASSERT_EQ(::symlink(secret_.c_str(), Object("link.raw").c_str()), 0);
  ASSERT_TRUE(MakeDirs(dir_ + "/host/dir").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/host/dir/disk.raw", std::string(kMiB, 'h')).ok());
  ASSERT_EQ(::symlink((dir_ + "/host/dir").c_str(), Object("sub").c_str()), 0);
  EXPECT_EQ(oss_->OpenForRead(kAlice.account_id, "alice-in", "link.raw").status().reason(),
            "NoSuchKey");
  EXPECT_EQ(oss_->OpenForRead(kAlice.account_id, "alice-in", "sub/disk.raw").status().reason(),
            "NoSuchKey");
  ASSERT_EQ(::mkfifo(Object("fifo.raw").c_str(), 0600), 0);
  EXPECT_EQ(oss_->OpenForRead(kAlice.account_id, "alice-in", "fifo.raw").status().reason(),
            "NoSuchKey");
}

TEST_F(ImageImportTest, ImportedFormatsStillConvertAndExportsInspectAsAskedFor) {
  Open();
  const std::string data = std::string(kMiB, 'd') + std::string(kMiB, '\0') + std::string(kMiB, 'e');
  QcowWithData("disk.qcow2", data);
  std::string image_id;
  TaskRecord t = Import("disk.qcow2", "", &image_id);
  ASSERT_EQ(t.status, "Finished") << t.error_message;
  EXPECT_EQ(ExportRaw(image_id), data);
  for (const std::string format : {"qcow2", "vhd", "vmdk", "vdi"}) {
    // Formats are taken in any case, as ECS does.
    const std::string asked = format == "vhd" ? "VHD" : format == "vdi" ? "Vdi" : format;
    Result<std::string> task_id =
        region_->ExportImage(kAlice, ExportImageRequest{image_id, "alice-out", "x" + format, asked});
    ASSERT_TRUE(task_id.ok()) << task_id.status().ToString();
    TaskRecord e = WaitTask(kAlice, *task_id);
    ASSERT_EQ(e.status, "Finished") << format << ": " << e.error_message;
    std::string object = "x" + format + "_" + image_id + "_" + *task_id + "." + format;
    std::string from = dir_ + "/oss/alice-out/" + object;
    // qemu-img sees the format asked for (vhd is qemu's "vpc"), of the
    // disk's exact size.
    std::vector<std::string> info = {"qemu-img", "info", "--output=json", from};
    Result<ProcessResult> ran = RunProcess(info);
    ASSERT_TRUE(ran.ok() && ran->exit_code == 0) << (ran.ok() ? DescribeFailure(info, *ran) : "");
    nlohmann::json facts = nlohmann::json::parse(ran->stdout_text, nullptr, false);
    EXPECT_EQ(facts.value("format", ""), format == "vhd" ? "vpc" : format) << ran->stdout_text;
    EXPECT_EQ(facts.value("virtual-size", uint64_t{0}), data.size()) << format << ": " << ran->stdout_text;
    // And each export imports back (where the format is importable).
    if (format == "vdi") continue;
    ASSERT_EQ(::rename(from.c_str(), Object(object).c_str()), 0);
    std::string back_id;
    TaskRecord back = Import(object, "", &back_id);
    ASSERT_EQ(back.status, "Finished") << format << ": " << back.error_message;
    EXPECT_EQ(ExportRaw(back_id), data) << format;
  }
}

}  // namespace
}  // namespace ferry
