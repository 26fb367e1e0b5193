// The real binary over HTTP: one server shared by the tests of this suite.
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/hash.h"
#include "integration/ferry_process.h"
#include "integration/helpers.h"
#include "integration/shared_server_test.h"

namespace ferry::testing {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr uint64_t kMiB = 1 << 20;

class ServerApiTest : public SharedServerTest<ServerApiTest> {
 public:
  static constexpr const char* kScratchPrefix = "ferry-api-";

 protected:

  // Writes a raw image with holes into the operator bucket and imports it;
  // returns {image id, task id}.
  static std::pair<std::string, std::string> ImportRaw(EcsClient& client, const std::string& object,
                                                       const std::string& name, uint64_t seed) {
    const uint64_t size = 20 * kMiB + 12288;  // not chunk-aligned (whole sectors): the tail must survive
    WriteSparseImage(BucketDir() + "/" + object, size,
                     {{0, kMiB}, {8 * kMiB, 3 * kMiB / 2}, {size - 64 * 1024, 64 * 1024}}, seed);
    json started = CallOk(client, "ImportImage",
                          {{"ImageName", name},
                           {"DiskDeviceMapping.1.OSSBucket", kOperatorBucket},
                           {"DiskDeviceMapping.1.OSSObject", object},
                           {"DiskDeviceMapping.1.Format", "RAW"}});
    return {started.value("ImageId", std::string()), started.value("TaskId", std::string())};
  }

  // One server for the whole suite: starting one per test would dominate
  // the suite's run time.
};

TEST_F(ServerApiTest, DescribeRegionsListsTheThreeDefaultRegionsWithBothSignatures) {
  for (bool v3 : {false, true}) {
    EcsClient client = RootClient(server_->endpoint(), v3);
    json body = CallOk(client, "DescribeRegions", {});
    std::vector<std::string> ids;
    for (const json& r : body["Regions"]["Region"]) ids.push_back(r.value("RegionId", std::string()));
    EXPECT_EQ(ids, (std::vector<std::string>{"cn-hangzhou", "cn-shanghai", "cn-beijing"})) << "v3=" << v3;
  }
}

TEST_F(ServerApiTest, ServeWritesRootCredentialsAndDefaultProfile) {
  json creds = json::parse(ReadAll(DataDir() + "/root-credentials.json"));
  EXPECT_EQ(creds.value("AccessKeyId", std::string()), kRootKeyId);
  EXPECT_EQ(creds.value("AccessKeySecret", std::string()), kRootKeySecret);
  EXPECT_EQ(creds.value("AccountId", std::string()).size(), 16u);
  EXPECT_EQ(fs::status(DataDir() + "/root-credentials.json").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);

  json profiles = json::parse(ReadAll(ConfigDir() + "/profiles.json"));
  const json& def = profiles["profiles"]["default"];
  EXPECT_EQ(def.value("endpoint", std::string()), server_->endpoint());
  EXPECT_EQ(def.value("access_key_id", std::string()), kRootKeyId);
  EXPECT_EQ(def.value("region", std::string()), "cn-hangzhou");
  EXPECT_EQ(fs::status(ConfigDir() + "/profiles.json").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
}

class ImageLifecycleTest : public ServerApiTest, public ::testing::WithParamInterface<bool> {};

TEST_P(ImageLifecycleTest, ImportDescribeRenameExportDelete) {
  const bool v3 = GetParam();
  const std::string suffix = v3 ? "v3" : "v1";
  EcsClient client = RootClient(server_->endpoint(), v3);
  const std::string object = "disk-" + suffix + ".raw";
  auto [image_id, task_id] = ImportRaw(client, object, "lifecycle-" + suffix, v3 ? 2 : 1);
  ASSERT_FALSE(image_id.empty());
  ASSERT_FALSE(task_id.empty());

  json task = WaitForTask(client, task_id);
  ASSERT_EQ(task.value("TaskStatus", std::string()), "Finished") << task.dump();
  EXPECT_EQ(task.value("TaskProcess", std::string()), "100%");

  json images = DescribeImage(client, image_id);
  ASSERT_EQ(images.size(), 1u);
  EXPECT_EQ(images[0].value("Status", std::string()), "Available");
  EXPECT_EQ(images[0].value("ImageName", std::string()), "lifecycle-" + suffix);
  EXPECT_EQ(images[0].value("Size", 0), 1);  // 20 MiB rounds up to 1 GiB

  CallOk(client, "ModifyImageAttribute", {{"ImageId", image_id}, {"ImageName", "renamed-" + suffix}});
  images = DescribeImage(client, image_id);
  ASSERT_EQ(images.size(), 1u);
  EXPECT_EQ(images[0].value("ImageName", std::string()), "renamed-" + suffix);

  json exported = CallOk(client, "ExportImage",
                         {{"ImageId", image_id}, {"OSSBucket", kOperatorBucket}, {"OSSPrefix", "exp" + suffix},
                          {"ImageFormat", "raw"}});
  const std::string export_task = exported.value("TaskId", std::string());
  ASSERT_FALSE(export_task.empty()) << exported.dump();
  json done = WaitForTask(client, export_task);
  ASSERT_EQ(done.value("TaskStatus", std::string()), "Finished") << done.dump();
  const std::string out_object = RelatedItem(done, "OSSObject");
  ASSERT_FALSE(out_object.empty()) << done.dump();
  const std::string out_path = BucketDir() + "/" + out_object;
  ASSERT_TRUE(fs::exists(out_path)) << out_path;
  EXPECT_EQ(fs::file_size(out_path), fs::file_size(BucketDir() + "/" + object));
  EXPECT_EQ(FileSha256(out_path), FileSha256(BucketDir() + "/" + object));

  CallOk(client, "DeleteImage", {{"ImageId", image_id}});
  EXPECT_TRUE(DescribeImage(client, image_id).empty());
}

INSTANTIATE_TEST_SUITE_P(Signatures, ImageLifecycleTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) { return info.param ? "V3" : "V1"; });

TEST_F(ServerApiTest, ErrorsCarryEcsCodesAndHttpStatuses) {
  for (bool v3 : {false, true}) {
    SCOPED_TRACE(v3 ? "v3" : "v1");
    EcsClient client = RootClient(server_->endpoint(), v3);
    Result<EcsResponse> resp =
        client.Call("ModifyImageAttribute",
                    {{"RegionId", kRegion}, {"ImageId", "m-doesnotexist0000000"}, {"ImageName", "whatever"}});
    ASSERT_TRUE(resp.ok()) << resp.status().ToString();
    EXPECT_EQ(resp->http_status, 404) << resp->raw_body;
    EXPECT_EQ(resp->body.value("Code", std::string()), "InvalidImageId.NotFound");
    EXPECT_FALSE(resp->body.value("RequestId", std::string()).empty());

    EcsClient forged = ClientFor(server_->endpoint(), kRootKeyId, "not-the-secret", v3);
    resp = forged.Call("DescribeImages", {{"RegionId", kRegion}});
    ASSERT_TRUE(resp.ok()) << resp.status().ToString();
    EXPECT_EQ(resp->http_status, 400) << resp->raw_body;
    EXPECT_EQ(resp->body.value("Code", std::string()), "SignatureDoesNotMatch");

    resp = client.Call("ImportImage", {{"RegionId", kRegion},
                                       {"ImageName", "1-starts-with-a-digit"},
                                       {"DiskDeviceMapping.1.OSSBucket", kOperatorBucket},
                                       {"DiskDeviceMapping.1.OSSObject", "whatever.raw"}});
    ASSERT_TRUE(resp.ok()) << resp.status().ToString();
    EXPECT_EQ(resp->http_status, 400) << resp->raw_body;
    EXPECT_EQ(resp->body.value("Code", std::string()), "InvalidImageName.Malformed");
  }
}

TEST_F(ServerApiTest, SecondAccountMadeOfflineCannotSeeRootImages) {
  EcsClient root = RootClient(server_->endpoint(), false);
  auto [image_id, task_id] = ImportRaw(root, "private.raw", "root-private", 3);
  ASSERT_EQ(WaitForTask(root, task_id).value("TaskStatus", std::string()), "Finished");

  CommandResult created = RunFerry({"account", "create", "bob", "--data", DataDir()}, {});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  json bob_key = json::parse(created.out, nullptr, false);
  ASSERT_TRUE(bob_key.is_object()) << created.out;
  ASSERT_EQ(bob_key.value("AccountId", std::string()).size(), 16u);

  for (bool v3 : {false, true}) {
    EcsClient bob = ClientFor(server_->endpoint(), bob_key.value("AccessKeyId", std::string()),
                              bob_key.value("AccessKeySecret", std::string()), v3);
    EXPECT_TRUE(DescribeImage(bob, image_id).empty()) << "v3=" << v3;
    json own = CallOk(bob, "DescribeImages", {{"ImageOwnerAlias", "self"}});
    EXPECT_EQ(own.value("TotalCount", -1), 0) << own.dump();
    Result<EcsResponse> resp = bob.Call(
        "ModifyImageAttribute", {{"RegionId", kRegion}, {"ImageId", image_id}, {"ImageName", "stolen"}});
    ASSERT_TRUE(resp.ok());
    EXPECT_EQ(resp->http_status, 404) << resp->raw_body;
  }
  // The root still sees its image, unrenamed.
  json images = DescribeImage(root, image_id);
  ASSERT_EQ(images.size(), 1u);
  EXPECT_EQ(images[0].value("ImageName", std::string()), "root-private");

  CommandResult duplicate = RunFerry({"account", "create", "bob", "--data", DataDir()}, {});
  EXPECT_EQ(duplicate.exit_code, 1) << duplicate.out;
  EXPECT_NE(duplicate.err.find("Error:"), std::string::npos) << duplicate.err;
}

TEST_F(ServerApiTest, CliImportsAFileAndListsItAsJson) {
  ScratchDir files("ferry-cli-file-");
  const std::string file = files.path() + "/cli-disk.img";
  WriteSparseImage(file, 64 * kMiB, {{kMiB, 2 * kMiB}, {40 * kMiB, 5000}}, 4);

  CommandResult imported = RunFerry({"image", "import", file, "--name", "cli-imported", "--format", "raw",
                                     "--output", "json", "--keep-upload"},
                                    server_->ClientEnv());
  ASSERT_EQ(imported.exit_code, 0) << imported.out << "\n" << imported.err;
  json result = json::parse(imported.out, nullptr, false);
  ASSERT_TRUE(result.is_object()) << imported.out;
  const std::string image_id = result.value("ImageId", std::string());
  EXPECT_EQ(result.value("TaskStatus", std::string()), "Finished");
  // Progress goes to stderr, never into the JSON on stdout: the bytes sent
  // (the two 4 MiB parts that hold data; all-zero parts travel as their
  // size) beside the disk's size, at a real rate (stderr is not a terminal
  // here: a summary line, never "0 B/s").
  EXPECT_NE(imported.err.find("upload cli-disk.img: uploaded, 8.0 MiB data of a 64.0 MiB disk in "),
            std::string::npos)
      << imported.err;
  EXPECT_EQ(imported.err.find(" 0 B/s"), std::string::npos) << imported.err;
  EXPECT_EQ(imported.err.find(" 0.0 B/s"), std::string::npos) << imported.err;

  CommandResult listed = RunFerry({"image", "list", "--output", "json"}, server_->ClientEnv());
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  json images = json::parse(listed.out, nullptr, false);
  ASSERT_TRUE(images.is_array()) << listed.out;
  bool found = false;
  for (const json& img : images) {
    if (img.value("ImageId", std::string()) != image_id) continue;
    found = true;
    EXPECT_EQ(img.value("ImageName", std::string()), "cli-imported");
    EXPECT_EQ(img.value("Status", std::string()), "Available");
  }
  EXPECT_TRUE(found) << listed.out;

  // The uploaded object (kept: --keep-upload) is byte-identical to the file.
  const std::string bucket = result.value("OSSBucket", std::string());
  const std::string object = result.value("OSSObject", std::string());
  EXPECT_EQ(FileSha256(DataDir() + "/oss/" + bucket + "/" + object), FileSha256(file));

  CommandResult table = RunFerry({"image", "list"}, server_->ClientEnv());
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_EQ(table.out.rfind("IMAGEID", 0), 0u) << table.out;
  EXPECT_NE(table.out.find(image_id), std::string::npos) << table.out;
}

// `ferry oss cp` of a sparse 1 GiB disk: the bytes sent are the parts that
// hold data, shown beside the disk's size; the object is stored sparse.
TEST_F(ServerApiTest, CliUploadOfASparseDiskSendsItsDataPartsOnly) {
  ScratchDir files("ferry-cli-sparse-");
  const std::string file = files.path() + "/sparse.raw";
  WriteSparseImage(file, 1024 * kMiB, {{0, kMiB}, {700 * kMiB, 3 * kMiB}}, 9);
  CommandResult made = RunFerry({"oss", "mb", "oss://sparse-up"}, server_->ClientEnv());
  ASSERT_EQ(made.exit_code, 0) << made.err;
  CommandResult copied = RunFerry({"oss", "cp", file, "oss://sparse-up/disk.raw"}, server_->ClientEnv());
  ASSERT_EQ(copied.exit_code, 0) << copied.out << "\n" << copied.err;
  // Two 16 MiB parts hold data; the other 62 travel as their size.
  EXPECT_NE(copied.err.find("upload disk.raw: uploaded, 32.0 MiB data of a 1.0 GiB disk in "), std::string::npos)
      << copied.err;
  const std::string stored = DataDir() + "/oss/sparse-up/disk.raw";
  struct stat st {};
  ASSERT_EQ(::stat(stored.c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), 1024 * kMiB);
  EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512, 64 * kMiB) << "the zeros were not stored as holes";
  EXPECT_EQ(FileSha256(stored), FileSha256(file));
}

TEST_F(ServerApiTest, CliReportsEcsErrorsAndUsageErrorsWithDistinctExitCodes) {
  CommandResult missing = RunFerry({"image", "show", "m-doesnotexist0000000"}, server_->ClientEnv());
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("Error: InvalidImageId.NotFound"), std::string::npos) << missing.err;

  CommandResult rename = RunFerry({"image", "rename", "m-doesnotexist0000000", "newname"}, server_->ClientEnv());
  EXPECT_EQ(rename.exit_code, 1);
  EXPECT_NE(rename.err.find("Error: InvalidImageId.NotFound: "), std::string::npos) << rename.err;
  EXPECT_NE(rename.err.find("(RequestId "), std::string::npos) << rename.err;

  CommandResult usage = RunFerry({"image", "frobnicate"}, server_->ClientEnv());
  EXPECT_EQ(usage.exit_code, 2) << usage.err;

  CommandResult regions = RunFerry({"region", "list", "--v3", "--output", "json"}, server_->ClientEnv());
  ASSERT_EQ(regions.exit_code, 0) << regions.err;
  json list = json::parse(regions.out, nullptr, false);
  ASSERT_TRUE(list.is_array()) << regions.out;
  EXPECT_EQ(list.size(), 3u);
}

// ---------------------------------------------------------------- a new user

// The first line of `text`.
std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

// Every CLI failure is one line "Error: CODE: message"; an error the server
// answered ends with " (RequestId <uuid>)".
void ExpectErrorShape(const CommandResult& r, const std::string& what, bool from_server) {
  SCOPED_TRACE(what);
  EXPECT_NE(r.exit_code, 0) << r.out;
  const std::string line = FirstLine(r.err);
  static const std::regex kShape(R"(^Error: [A-Za-z][A-Za-z0-9.]*: \S.*$)");
  EXPECT_TRUE(std::regex_match(line, kShape)) << r.err;
  static const std::regex kRequestId(
      R"( \(RequestId [0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\)$)");
  EXPECT_EQ(std::regex_search(line, kRequestId), from_server) << r.err;
}

TEST_F(ServerApiTest, EveryCliErrorHasTheSameShape) {
  const EnvMap env = server_->ClientEnv();
  ScratchDir files("ferry-cli-errors-");
  const std::string empty = files.path() + "/empty.img";
  ASSERT_TRUE(std::ofstream(empty).good());

  CommandResult show = RunFerry({"image", "show", "bogus"}, env);
  ExpectErrorShape(show, "image show bogus", true);
  EXPECT_EQ(FirstLine(show.err).rfind("Error: InvalidImageId.NotFound: ", 0), 0u) << show.err;
  EXPECT_NE(show.err.find("bogus"), std::string::npos) << show.err;
  ExpectErrorShape(RunFerry({"image", "rename", "m-bogus0000000000000000", "newname"}, env), "image rename",
                   true);
  ExpectErrorShape(RunFerry({"image", "delete", "m-bogus0000000000000000"}, env), "image delete", true);
  ExpectErrorShape(RunFerry({"task", "show", "t-bogus"}, env), "task show", true);
  ExpectErrorShape(RunFerry({"snapshot", "delete", "s-bogus"}, env), "snapshot delete", true);
  ExpectErrorShape(RunFerry({"image", "import", files.path() + "/missing.img"}, env), "import missing",
                   false);
  ExpectErrorShape(RunFerry({"image", "import", empty}, env), "import empty", false);
  ExpectErrorShape(RunFerry({"image", "export", "m-bogus0000000000000000"}, env), "export without --bucket",
                   false);
  ExpectErrorShape(RunFerry({"image", "lst"}, env), "unknown command", false);
  ExpectErrorShape(RunFerry({"image", "list", "--timeout", "soon"}, env), "unknown flag", false);
  ExpectErrorShape(RunFerry({"image", "create", "--instance", "i-1", "--timeout", "soon"}, env),
                   "bad duration", false);
  EnvMap nowhere = env;
  nowhere["FERRY_ENDPOINT"] = "http://127.0.0.1:" + std::to_string(FreeLoopbackPort());
  CommandResult unreachable = RunFerry({"image", "list"}, nowhere);
  ExpectErrorShape(unreachable, "unreachable server", false);
  EXPECT_EQ(FirstLine(unreachable.err).rfind("Error: Unavailable: ", 0), 0u) << unreachable.err;
}

TEST_F(ServerApiTest, CliNamesUnknownCommandsAndTellsItsVersion) {
  const EnvMap env = server_->ClientEnv();
  CommandResult foo = RunFerry({"foo"}, env);
  EXPECT_EQ(foo.exit_code, 2);
  EXPECT_NE(foo.err.find("unknown command \"foo\" for \"ferry\""), std::string::npos) << foo.err;
  EXPECT_EQ(foo.err.find("A subcommand is required"), std::string::npos) << foo.err;

  CommandResult lst = RunFerry({"--region", "cn-hangzhou", "image", "lst", "--all"}, env);
  EXPECT_EQ(lst.exit_code, 2);
  EXPECT_NE(lst.err.find("unknown command \"lst\" for \"ferry image\"; did you mean \"ferry image list\"?"),
            std::string::npos)
      << lst.err;
  CommandResult bare = RunFerry({"image"}, env);
  EXPECT_EQ(bare.exit_code, 2);
  EXPECT_NE(bare.err.find("\"ferry image\" needs a command: import, list, show"), std::string::npos)
      << bare.err;

  CommandResult version = RunFerry({"version"}, env);
  ASSERT_EQ(version.exit_code, 0) << version.err;
  static const std::regex kVersion(R"(^ferry \d+\.\d+\.\d+ \(commit ([0-9a-f]{12}(-dirty)?|unknown)\)\n$)");
  EXPECT_TRUE(std::regex_match(version.out, kVersion)) << version.out;
  CommandResult dashed = RunFerry({"--version"}, env);
  EXPECT_EQ(dashed.exit_code, 0) << dashed.err;
  EXPECT_EQ(dashed.out, version.out);

  // Numeric flags say what they take.
  CommandResult serve_help = RunFerry({"serve", "--help"}, env);
  ASSERT_EQ(serve_help.exit_code, 0) << serve_help.err;
  for (const char* flag : {"--threads INT", "--max-copies INT", "--copy-in-flight INT", "--max-nonces INT",
                           "--copy-rate-limit BYTES/S", "--max-copy-size-gib GIB",
                           "--upload-expiry-hours HOURS", "--quota-images INT"}) {
    EXPECT_NE(serve_help.out.find(flag), std::string::npos) << flag << "\n" << serve_help.out;
  }
  EXPECT_EQ(serve_help.out.find("--threads TEXT"), std::string::npos) << serve_help.out;
  CommandResult run_help = RunFerry({"instance", "run", "--help"}, env);
  EXPECT_NE(run_help.out.find("--amount INT"), std::string::npos) << run_help.out;
  EXPECT_NE(run_help.out.find("--timeout DURATION"), std::string::npos) << run_help.out;
  CommandResult top_help = RunFerry({"--help"}, env);
  EXPECT_NE(top_help.out.find("--retry-for DURATION"), std::string::npos) << top_help.out;
}

TEST_F(ServerApiTest, CliRefusesWhatCannotBeADiskBeforeUploading) {
  ScratchDir files("ferry-cli-notdisk-");
  const std::string empty = files.path() + "/empty.img";
  const std::string text = files.path() + "/note.txt";
  const std::string odd = files.path() + "/odd.raw";
  const std::string raw = files.path() + "/disk.raw";
  ASSERT_TRUE(std::ofstream(empty).good());
  std::ofstream(text) << "hello\n";
  WriteSparseImage(odd, kMiB + 1, {{0, 4096}}, 5);
  WriteSparseImage(raw, kMiB, {{0, 4096}}, 6);
  struct Case {
    std::string file, format, why;
  };
  for (const Case& c : std::vector<Case>{
           {empty, "", "the file is empty (0 bytes); a disk image holds whole 512-byte sectors"},
           {text, "", "its size, 6 bytes, is not a whole number of 512-byte sectors, so it cannot be a disk"},
           {odd, "raw",
            "its size, 1048577 bytes, is not a whole number of 512-byte sectors, so it cannot be a disk"},
           {raw, "qcow2", "the image is raw, not QCOW2"}}) {
    SCOPED_TRACE(c.file);
    std::vector<std::string> args = {"image", "import", c.file};
    if (!c.format.empty()) args.insert(args.end(), {"--format", c.format});
    CommandResult r = RunFerry(args, server_->ClientEnv());
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(FirstLine(r.err), "Error: InvalidImageFormat.Malformed: disk image " + c.file + ": " + c.why)
        << r.err;
    // Nothing was uploaded.
    EXPECT_EQ(r.err.find("upload"), std::string::npos) << r.err;
    const std::string bucket = DataDir() + "/oss/ferry-uploads-" + Sha256Hex(kRootKeyId).substr(0, 16);
    EXPECT_FALSE(fs::exists(bucket + "/" + fs::path(c.file).filename().string()));
  }
}

TEST_F(ServerApiTest, ImportOfWhatCannotBeADiskFailsSayingWhyAndGoodDisksShowWhatTheyHold) {
  EcsClient client = RootClient(server_->endpoint(), false);
  // Bytes a user might upload by mistake, imported with the API (as an
  // ali-oss upload would be): the task fails and every listing says why.
  std::ofstream(BucketDir() + "/notes.txt") << "hello\n";
  json started = CallOk(client, "ImportImage",
                        {{"ImageName", "not-a-disk"},
                         {"DiskDeviceMapping.1.OSSBucket", kOperatorBucket},
                         {"DiskDeviceMapping.1.OSSObject", "notes.txt"}});
  const std::string task_id = started.value("TaskId", std::string());
  const std::string image_id = started.value("ImageId", std::string());
  json task = WaitForTask(client, task_id);
  ASSERT_EQ(task.value("TaskStatus", std::string()), "Failed") << task.dump();
  const json& op = task["OperationProgressSet"]["OperationProgress"][0];
  EXPECT_EQ(op.value("ErrorCode", std::string()), "InvalidImageFormat.Malformed") << task.dump();
  const std::string why = "is not a whole number of 512-byte sectors";
  EXPECT_NE(op.value("ErrorMsg", std::string()).find(why), std::string::npos) << task.dump();
  json tasks = CallOk(client, "DescribeTasks", {{"TaskIds", task_id}});
  ASSERT_EQ(tasks["TaskSet"]["Task"].size(), 1u) << tasks.dump();
  EXPECT_EQ(tasks["TaskSet"]["Task"][0].value("ErrorCode", std::string()), "InvalidImageFormat.Malformed");
  EXPECT_NE(tasks["TaskSet"]["Task"][0].value("ErrorMsg", std::string()).find(why), std::string::npos)
      << tasks.dump();
  json images = CallOk(client, "DescribeImages", {{"ImageId", image_id}, {"Status", "CreateFailed"}});
  ASSERT_EQ(images["Images"]["Image"].size(), 1u) << images.dump();
  EXPECT_NE(images["Images"]["Image"][0].value("CreateFailedReason", std::string()).find(why),
            std::string::npos)
      << images.dump();

  // A disk with an MBR and an ext4 partition at 1 MiB.
  const std::string disk = BucketDir() + "/mbr-ext4.raw";
  {
    std::ofstream f(disk, std::ios::binary);
    std::string mbr(512, '\0');
    mbr[446 + 4] = static_cast<char>(0x83);
    const uint32_t start = 2048, sectors = 63 * 2048;
    for (int k = 0; k < 4; ++k) {
      mbr[446 + 8 + k] = static_cast<char>((start >> (8 * k)) & 0xff);
      mbr[446 + 12 + k] = static_cast<char>((sectors >> (8 * k)) & 0xff);
    }
    mbr[510] = static_cast<char>(0x55);
    mbr[511] = static_cast<char>(0xaa);
    f << mbr;
  }
  fs::resize_file(disk, 64 * kMiB);
  ASSERT_EQ(std::system(("mkfs.ext4 -qF -E offset=1048576 " + disk + " 63M >/dev/null 2>&1").c_str()), 0);
  const std::string good_id =
      ImportRawImage(client, "cn-hangzhou", kOperatorBucket, "mbr-ext4.raw", "mbr-ext4");
  ASSERT_FALSE(good_id.empty());
  json good = DescribeImage(client, good_id);
  ASSERT_EQ(good.size(), 1u) << good.dump();
  const json& mapping = good[0]["DiskDeviceMappings"]["DiskDeviceMapping"][0];
  EXPECT_EQ(mapping.value("DetectedFormat", std::string()), "raw") << good.dump();
  EXPECT_EQ(mapping.value("DetectedContent", std::string()), "mbr: ext4") << good.dump();
}

// --query prints just the named fields (what scripts and the README's tour
// keep in shell variables); `account create` without --data goes through the
// CreateAccount API with the profile's root key; `disk list --instance`
// narrows to one instance.
TEST_F(ServerApiTest, CliQueryPicksFieldsAndAccountCreateUsesTheApi) {
  const EnvMap env = server_->ClientEnv();
  CommandResult created = RunFerry({"account", "create", "carol", "--query", "AccountId"}, env);
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string carol_id = created.out.substr(0, created.out.find('\n'));
  EXPECT_EQ(carol_id.size(), 16u) << created.out;
  EXPECT_EQ(created.out, carol_id + "\n") << "one value, one line";

  CommandResult dave = RunFerry({"account", "create", "dave", "--output", "json"}, env);
  ASSERT_EQ(dave.exit_code, 0) << dave.err;
  json dave_key = json::parse(dave.out, nullptr, false);
  ASSERT_TRUE(dave_key.is_object()) << dave.out;
  EcsClient dave_client = ClientFor(server_->endpoint(), dave_key.value("AccessKeyId", std::string()),
                                    dave_key.value("AccessKeySecret", std::string()), false);
  EXPECT_EQ(CallOk(dave_client, "DescribeImages", {{"ImageOwnerAlias", "self"}}).value("TotalCount", -1), 0);
  // Only the root account creates accounts.
  EnvMap as_dave = env;
  as_dave["FERRY_ACCESS_KEY_ID"] = dave_key.value("AccessKeyId", std::string());
  as_dave["FERRY_ACCESS_KEY_SECRET"] = dave_key.value("AccessKeySecret", std::string());
  CommandResult refused = RunFerry({"account", "create", "eve"}, as_dave);
  EXPECT_EQ(refused.exit_code, 1) << refused.out;
  EXPECT_NE(refused.err.find("Error: Forbidden: "), std::string::npos) << refused.err;
  // A name already taken, through the API too.
  CommandResult again = RunFerry({"account", "create", "carol"}, env);
  EXPECT_EQ(again.exit_code, 1) << again.out;
  EXPECT_NE(again.err.find("InvalidAccountName.Duplicated"), std::string::npos) << again.err;

  ScratchDir files("ferry-cli-query-");
  const std::string file = files.path() + "/q.raw";
  WriteSparseImage(file, 4 * kMiB, {{0, 4096}}, 9);
  CommandResult imported = RunFerry({"image", "import", file, "--name", "query-test", "--query", "ImageId"}, env);
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  const std::string image_id = imported.out.substr(0, imported.out.find('\n'));
  ASSERT_EQ(image_id.rfind("m-", 0), 0u) << imported.out;
  CommandResult listed = RunFerry({"image", "list", "--query", "[].ImageId"}, env);
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find(image_id + "\n"), std::string::npos) << listed.out;
  CommandResult sizes = RunFerry({"image", "list", "--query", "[0].Size"}, env);
  ASSERT_EQ(sizes.exit_code, 0) << sizes.err;
  EXPECT_EQ(sizes.out, "1\n") << "a number prints as JSON text";

  CommandResult run = RunFerry(
      {"instance", "run", "--image", image_id, "--amount", "2", "--wait", "--query", "[].InstanceId"}, env);
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const std::string first = run.out.substr(0, run.out.find('\n'));
  ASSERT_EQ(first.rfind("i-", 0), 0u) << run.out;
  EXPECT_EQ(std::count(run.out.begin(), run.out.end(), '\n'), 2) << run.out;
  CommandResult disks = RunFerry({"disk", "list", "--instance", first, "--query", "[].InstanceId"}, env);
  ASSERT_EQ(disks.exit_code, 0) << disks.err;
  EXPECT_EQ(disks.out, first + "\n") << "only that instance's one system disk";

  // Nothing selected: exit 1, so that VAR=$(...) stops a `set -e` script.
  CommandResult none = RunFerry({"image", "list", "--query", "[].NoSuchField"}, env);
  EXPECT_EQ(none.exit_code, 1) << none.out;
  EXPECT_NE(none.err.find("Error: QueryNoMatch: "), std::string::npos) << none.err;
  EXPECT_EQ(none.out, "");
  // A name ImportImage would refuse is refused before anything is uploaded.
  CommandResult bad_name = RunFerry({"image", "import", file, "--name", "q"}, env);
  EXPECT_EQ(bad_name.exit_code, 1) << bad_name.out;
  EXPECT_NE(bad_name.err.find("Error: InvalidImageName.Malformed: "), std::string::npos) << bad_name.err;
  EXPECT_EQ(bad_name.err.find("upload"), std::string::npos) << "nothing uploaded: " << bad_name.err;
  // A refused upload says why and nothing about resuming; one that could
  // not reach the server says to run it again.
  CommandResult refused_upload = RunFerry({"oss", "cp", file, "oss://dl/x.raw"}, env);
  EXPECT_EQ(refused_upload.exit_code, 1) << refused_upload.out;
  EXPECT_NE(refused_upload.err.find("InvalidBucketName"), std::string::npos) << refused_upload.err;
  EXPECT_EQ(refused_upload.err.find("again to resume"), std::string::npos) << refused_upload.err;
  EnvMap unreachable = env;
  unreachable["FERRY_OSS_ENDPOINT"] = "http://127.0.0.1:1";
  CommandResult cut_off = RunFerry({"oss", "cp", file, "oss://some-bucket/x.raw"}, unreachable);
  EXPECT_EQ(cut_off.exit_code, 1) << cut_off.out;
  EXPECT_NE(cut_off.err.find("(run the same command again to resume)"), std::string::npos) << cut_off.err;
  // A malformed path is a usage error before anything is called.
  for (const char* bad : {"a..b", "[x]", "[0", "a.", "[]b"}) {
    CommandResult malformed = RunFerry({"image", "list", "--query", bad}, env);
    EXPECT_EQ(malformed.exit_code, 2) << bad << ": " << malformed.out;
    EXPECT_NE(malformed.err.find("Error: Usage: "), std::string::npos) << bad << ": " << malformed.err;
  }
}

}  // namespace
}  // namespace ferry::testing
