#include "copy/peer_auth.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <memory>
#include <vector>

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

constexpr std::string_view kSealKeyLabel = "ferry-peer-seal-v1";
constexpr size_t kSealNonceBytes = 12;
constexpr size_t kSealTagBytes = 16;

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

const unsigned char* Bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

Status BadSeal(std::string_view context, const std::string& why) {
  return Unauthenticated("Forbidden.PeerSeal", "The sealed secret for \"" + std::string(context) +
                                                   "\" cannot be opened: " + why + ".");
}

int HexNibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool DecodeHex(std::string_view hex, std::string* out) {
  if (hex.size() % 2 != 0) return false;
  out->resize(hex.size() / 2);
  for (size_t i = 0; i < out->size(); ++i) {
    int hi = HexNibble(hex[2 * i]), lo = HexNibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*out)[i] = static_cast<char>(hi << 4 | lo);
  }
  return true;
}

}  // namespace

std::string PeerStringToSign(std::string_view method, std::string_view target, std::string_view date,
                             std::string_view nonce, std::string_view body_sha256_hex) {
  std::string out;
  out.reserve(method.size() + target.size() + date.size() + nonce.size() + body_sha256_hex.size() + 4);
  out.append(method).append("\n").append(target).append("\n").append(date).append("\n");
  out.append(nonce).append("\n").append(body_sha256_hex);
  return out;
}

std::string SignPeerRequest(std::string_view cluster_key, std::string_view method, std::string_view target,
                            std::string_view date, std::string_view nonce, std::string_view body) {
  return ToHex(HmacSha256(cluster_key, PeerStringToSign(method, target, date, nonce, Sha256Hex(body))));
}

std::string NewPeerNonce() { return RandomHex(kPeerNonceBytes); }

Status VerifyPeerRequest(std::string_view cluster_key, std::string_view method, std::string_view target,
                         std::string_view body, std::string_view date, std::string_view nonce,
                         std::string_view signature, UnixSeconds now, NonceCache* nonces,
                         int64_t max_skew_seconds, NonceLedger* ledger) {
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
  const bool nonce_ok = nonce.size() == 2 * kPeerNonceBytes &&
                        std::all_of(nonce.begin(), nonce.end(),
                                    [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
  if (!nonce_ok) {
    return Unauthenticated(
        "Forbidden.PeerNonce",
        "The header \"" + std::string(kPeerNonceHeader) + "\" is " +
            (nonce.empty() ? std::string("missing") : std::to_string(nonce.size()) + " characters") +
            "; it must be " + std::to_string(2 * kPeerNonceBytes) + " lower-case hex digits.");
  }
  if (signature.empty()) {
    return Unauthenticated("Forbidden.PeerSignature",
                           "The header \"" + std::string(kPeerSignatureHeader) + "\" is missing.");
  }
  std::string expected = SignPeerRequest(cluster_key, method, target, date, nonce, body);
  std::string lower(signature);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!ConstantTimeEquals(expected, lower)) {
    // The expected value is not echoed: it would be a valid signature.
    return Unauthenticated("Forbidden.PeerSignature",
                           "The peer signature does not match: the caller's cluster key differs from this "
                           "server's.");
  }
  if (nonces == nullptr) return Status::Ok();
  // Checked last: only a correctly signed request may take a cache entry.
  // A replay must pass the date check too, which it does until
  // date + max_skew: that long the nonce is remembered.
  const NonceCache::Digest digest = NonceCache::DigestOf(kPeerNonceScope, nonce);
  const UnixSeconds expires_at = *t + max_skew_seconds;
  auto replayed = [&] {
    return Unauthenticated("Forbidden.PeerNonceUsed", "The peer request nonce " + std::string(nonce) +
                                                          " was used already: a peer request is never "
                                                          "accepted twice.");
  };
  switch (nonces->CheckAndInsert(digest, now, expires_at)) {
    case NonceCache::Outcome::kAccepted: {
      if (ledger == nullptr) return Status::Ok();
      Result<bool> first = ledger->Claim(digest, now, expires_at);
      if (!first.ok()) {
        return Status(Code::kUnavailable, "ServiceUnavailable",
                      "This server cannot reach its region's nonce ledger; try again shortly.");
      }
      return *first ? Status::Ok() : replayed();
    }
    case NonceCache::Outcome::kReplayed:
      return replayed();
    case NonceCache::Outcome::kFull:
    case NonceCache::Outcome::kScopeFull:  // one scope: the whole cache
      break;
  }
  return Status(Code::kUnavailable, "ServiceUnavailable",
                "This server holds " + std::to_string(nonces->max_entries()) +
                    " peer request nonces within the time window; try again shortly.");
}

std::string SealPeerSecret(std::string_view cluster_key, std::string_view context, std::string_view secret) {
  const std::string key = HmacSha256(cluster_key, kSealKeyLabel);
  unsigned char nonce[kSealNonceBytes];
  // Without randomness there is no safe seal; that is a broken host, not a
  // peer's doing.
  if (RAND_bytes(nonce, sizeof(nonce)) != 1) std::abort();
  std::string out(reinterpret_cast<const char*>(nonce), sizeof(nonce));
  out.resize(kSealNonceBytes + secret.size() + kSealTagBytes);
  unsigned char* ciphertext = reinterpret_cast<unsigned char*>(out.data()) + kSealNonceBytes;
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  bool ok =
      ctx != nullptr && EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kSealNonceBytes, nullptr) == 1 &&
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, Bytes(key), nonce) == 1 &&
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, Bytes(context), static_cast<int>(context.size())) == 1 &&
      EVP_EncryptUpdate(ctx.get(), ciphertext, &len, Bytes(secret), static_cast<int>(secret.size())) == 1 &&
      EVP_EncryptFinal_ex(ctx.get(), ciphertext + len, &len) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kSealTagBytes, ciphertext + secret.size()) == 1;
  // AES-GCM with a valid key and nonce cannot fail short of an OpenSSL bug.
  if (!ok) std::abort();
  return ToHex(std::string_view(out));
}

Result<std::string> OpenPeerSecret(std::string_view cluster_key, std::string_view context,
                                   std::string_view sealed) {
  std::string raw;
  if (!DecodeHex(sealed, &raw)) return BadSeal(context, "it is not hex");
  if (raw.size() < kSealNonceBytes + kSealTagBytes) {
    return BadSeal(context, std::to_string(raw.size()) + " bytes is shorter than nonce and tag (" +
                                std::to_string(kSealNonceBytes + kSealTagBytes) + ")");
  }
  const std::string key = HmacSha256(cluster_key, kSealKeyLabel);
  const size_t text_size = raw.size() - kSealNonceBytes - kSealTagBytes;
  const unsigned char* nonce = Bytes(raw);
  const unsigned char* ciphertext = nonce + kSealNonceBytes;
  std::vector<unsigned char> tag(ciphertext + text_size, ciphertext + text_size + kSealTagBytes);
  std::string plaintext(text_size, '\0');
  unsigned char* out = reinterpret_cast<unsigned char*>(plaintext.data());
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  bool ok =
      ctx != nullptr && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kSealNonceBytes, nullptr) == 1 &&
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, Bytes(key), nonce) == 1 &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, Bytes(context), static_cast<int>(context.size())) == 1 &&
      EVP_DecryptUpdate(ctx.get(), out, &len, ciphertext, static_cast<int>(text_size)) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kSealTagBytes, tag.data()) == 1;
  // Final checks the tag: a wrong key, context or altered byte fails here.
  if (!ok || EVP_DecryptFinal_ex(ctx.get(), out + len, &len) != 1) {
    return BadSeal(context, "authentication failed (another cluster key, another key id, or altered bytes)");
  }
  return plaintext;
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
