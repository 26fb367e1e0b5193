#include "common/hash.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cassert>

namespace ferry {

struct Sha256::Ctx {
  EVP_MD_CTX* md = nullptr;
};

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {
  ctx_->md = EVP_MD_CTX_new();
  assert(ctx_->md != nullptr);
  EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr);
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_->md); }

void Sha256::Update(std::span<const uint8_t> data) {
  EVP_DigestUpdate(ctx_->md, data.data(), data.size());
}

void Sha256::Update(std::string_view data) {
  EVP_DigestUpdate(ctx_->md, data.data(), data.size());
}

Digest256 Sha256::Finish() {
  Digest256 out{};
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_->md, out.data(), &len);
  EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr);
  return out;
}

Digest256 Sha256::Of(std::span<const uint8_t> data) {
  Digest256 out{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr);
  return out;
}

Digest256 Sha256::Of(std::string_view data) {
  return Of(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
}

namespace {

std::string HexWith(std::span<const uint8_t> bytes, const char* digits) {
  std::string out;
  out.resize(bytes.size() * 2);
  for (size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = digits[bytes[i] >> 4];
    out[2 * i + 1] = digits[bytes[i] & 0xf];
  }
  return out;
}

}  // namespace

struct Md5::Ctx {
  EVP_MD_CTX* md = nullptr;
};

Md5::Md5() : ctx_(std::make_unique<Ctx>()) {
  ctx_->md = EVP_MD_CTX_new();
  assert(ctx_->md != nullptr);
  EVP_DigestInit_ex(ctx_->md, EVP_md5(), nullptr);
}

Md5::~Md5() { EVP_MD_CTX_free(ctx_->md); }

void Md5::Update(std::span<const uint8_t> data) { EVP_DigestUpdate(ctx_->md, data.data(), data.size()); }

Md5Digest Md5::Finish() {
  Md5Digest out{};
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_->md, out.data(), &len);
  EVP_DigestInit_ex(ctx_->md, EVP_md5(), nullptr);
  return out;
}

Md5Digest Md5::Of(std::span<const uint8_t> data) {
  Md5Digest out{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_md5(), nullptr);
  return out;
}

Md5Digest Md5::Of(std::string_view data) {
  return Of(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
}

std::string ToHex(std::span<const uint8_t> bytes) { return HexWith(bytes, "0123456789abcdef"); }
std::string ToUpperHex(std::span<const uint8_t> bytes) { return HexWith(bytes, "0123456789ABCDEF"); }

std::string ToHex(std::string_view bytes) {
  return ToHex(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

static int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

namespace {

bool FromHexInto(std::string_view hex, std::span<uint8_t> out) {
  if (hex.size() != 2 * out.size()) return false;
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = HexValue(hex[2 * i]);
    int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

}  // namespace

bool FromHex(std::string_view hex, Digest256* out) { return FromHexInto(hex, *out); }
bool FromHex(std::string_view hex, Md5Digest* out) { return FromHexInto(hex, *out); }

std::string Base64Encode(std::string_view bytes) {
  std::string out;
  out.resize(4 * ((bytes.size() + 2) / 3) + 1);
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

bool Base64Decode(std::string_view text, std::string* out) {
  if (text.size() % 4 != 0) return false;
  size_t padding = 0;
  if (!text.empty() && text.back() == '=') padding = text.size() >= 2 && text[text.size() - 2] == '=' ? 2 : 1;
  // EVP_DecodeBlock rejects bad characters but takes '=' anywhere it ends a
  // quantum: padding is allowed only at the very end.
  if (text.substr(0, text.size() - padding).find('=') != std::string_view::npos) return false;
  std::string decoded(3 * (text.size() / 4), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(decoded.data()),
                          reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0 || static_cast<size_t>(n) != decoded.size()) return false;
  decoded.resize(decoded.size() - padding);
  // The bits padding leaves unused must be zero, so that one text decodes
  // from exactly one byte string.
  if (Base64Encode(decoded) != text) return false;
  *out = std::move(decoded);
  return true;
}

static std::string Hmac(const EVP_MD* md, std::string_view key, std::string_view data) {
  unsigned char buf[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), buf, &len);
  return std::string(reinterpret_cast<char*>(buf), len);
}

std::string HmacSha1(std::string_view key, std::string_view data) {
  return Hmac(EVP_sha1(), key, data);
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  return Hmac(EVP_sha256(), key, data);
}

std::string Sha256Hex(std::string_view data) { return ToHex(Sha256::Of(data)); }

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace ferry
