#include "copy/peer_auth.h"

#include <sys/stat.h>

#include <cerrno>

#include "common/fs_util.h"
#include "common/hash.h"
#include "common/ids.h"

namespace ferry {
namespace {

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

}  // namespace

std::string PeerStringToSign(std::string_view method, std::string_view target, std::string_view date) {
  std::string out;
  out.reserve(method.size() + target.size() + date.size() + 2);
  out.append(method).append("\n").append(target).append("\n").append(date);
  return out;
}

std::string SignPeerRequest(std::string_view cluster_key, std::string_view method, std::string_view target,
                            std::string_view date) {
  return ToHex(HmacSha256(cluster_key, PeerStringToSign(method, target, date)));
}

Status VerifyPeerRequest(std::string_view cluster_key, std::string_view method, std::string_view target,
                         std::string_view date, std::string_view signature, UnixSeconds now,
                         int64_t max_skew_seconds) {
  if (cluster_key.empty()) {
    return Unauthenticated("Forbidden.PeerSignature",
                           "This server has no cluster key; its peer API is closed.");
  }
  // Only the seconds form: ParseTime also takes "yyyy-MM-ddTHH:mmZ".
  std::optional<UnixSeconds> t;
  if (date.size() == 20) t = ParseTime(date);
  if (!t) {
    return Unauthenticated("Forbidden.PeerDate",
                           "The header \"" + std::string(kPeerDateHeader) + "\" is " +
                               (date.empty() ? std::string("missing") : "\"" + std::string(date) + "\"") +
                               "; it must be a UTC time as yyyy-MM-ddTHH:mm:ssZ.");
  }
  int64_t skew = *t > now ? *t - now : now - *t;
  if (skew > max_skew_seconds) {
    return Unauthenticated("Forbidden.PeerDate", "The request date " + std::string(date) + " is " +
                                                     std::to_string(skew) + " s from the server time " +
                                                     FormatTimeSeconds(now) + "; at most " +
                                                     std::to_string(max_skew_seconds) + " s are allowed.");
  }
  if (signature.empty()) {
    return Unauthenticated("Forbidden.PeerSignature",
                           "The header \"" + std::string(kPeerSignatureHeader) + "\" is missing.");
  }
  std::string expected = SignPeerRequest(cluster_key, method, target, date);
  std::string lower(signature);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!ConstantTimeEquals(expected, lower)) {
    // The expected value is not echoed: it would be a valid signature.
    return Unauthenticated("Forbidden.PeerSignature",
                           "The peer signature does not match: the caller's cluster key differs from this "
                           "server's.");
  }
  return Status::Ok();
}

Result<std::string> LoadOrCreateClusterKey(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    ASSIGN_OR_RETURN(std::string content, ReadFileToString(path));
    std::string key = Trim(content);
    if (key.empty()) return FailedPrecondition("", "cluster key file " + path + " is empty");
    return key;
  }
  if (errno != ENOENT) return ErrnoStatus("stat", path, errno);
  std::string key = RandomHex(kClusterKeyRandomBytes);
  RETURN_IF_ERROR(WriteFileAtomic(path, key + "\n", 0600));
  return key;
}

}  // namespace ferry
