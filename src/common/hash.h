// SHA-256, MD5 (OSS ETags and Content-MD5 only; never for integrity) and HMAC
// (OpenSSL EVP, SHA-NI where the CPU has it) and hex/base64.
// Thread-compatible: a Sha256 or Md5 object is used by one thread at a time.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace ferry {

using Digest256 = std::array<uint8_t, 32>;

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::span<const uint8_t> data);
  void Update(std::string_view data);
  Digest256 Finish();  // the object may be reused after Finish()

  static Digest256 Of(std::span<const uint8_t> data);
  static Digest256 Of(std::string_view data);

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

using Md5Digest = std::array<uint8_t, 16>;

class Md5 {
 public:
  Md5();
  ~Md5();
  Md5(const Md5&) = delete;
  Md5& operator=(const Md5&) = delete;

  void Update(std::span<const uint8_t> data);
  Md5Digest Finish();  // the object may be reused after Finish()

  static Md5Digest Of(std::span<const uint8_t> data);
  static Md5Digest Of(std::string_view data);

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

// Lower-case hex.
std::string ToHex(std::span<const uint8_t> bytes);
inline std::string ToHex(const Digest256& d) { return ToHex(std::span<const uint8_t>(d)); }
std::string ToHex(std::string_view bytes);
// Upper-case hex (OSS ETags).
std::string ToUpperHex(std::span<const uint8_t> bytes);
// Accepts upper or lower case; false on bad length/characters.
bool FromHex(std::string_view hex, Digest256* out);
bool FromHex(std::string_view hex, Md5Digest* out);

std::string Base64Encode(std::string_view bytes);
// Standard alphabet with padding, as Base64Encode writes it; false on any
// other text (bad length, characters or padding).
bool Base64Decode(std::string_view text, std::string* out);

// Raw MAC bytes.
std::string HmacSha1(std::string_view key, std::string_view data);
std::string HmacSha256(std::string_view key, std::string_view data);
std::string Sha256Hex(std::string_view data);

// Constant-time comparison for secrets and signatures.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace ferry
