// The peer protocol's authentication (copy/peer_auth.*): request signature
// and date checks and sealed secrets, on hostile input.
// Invariants: a request verifies only with the signature SignPeerRequest
// makes (any other signature is refused); a tampered or foreign sealed
// secret never opens; Seal/Open round-trips.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/clock.h"
#include "copy/peer_auth.h"
#include "fuzz_util.h"

using ferry::fuzz::Fields;

namespace {
constexpr ferry::UnixSeconds kNow = 1790000000;
constexpr const char* kKey = "0123456789abcdef0123456789abcdef";
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Fields fields(data, size);
  const std::string method = fields.Next();
  const std::string target = fields.Next();
  const std::string date = fields.Next();
  const std::string signature = fields.Next();
  const std::string body = fields.Next();
  const std::string sealed = fields.Next();
  const std::string nonce = fields.Next();  // last: older seeds have none

  ferry::Status given = ferry::VerifyPeerRequest(kKey, method, target, body, date, nonce, signature, kNow, nullptr);
  std::string good = ferry::SignPeerRequest(kKey, method, target, date, nonce, body);
  if (given.ok()) FUZZ_CHECK(signature == good);
  ferry::Status signed_status = ferry::VerifyPeerRequest(kKey, method, target, body, date, nonce, good, kNow, nullptr);
  if (signed_status.ok()) {
    // A date the check accepts, moved past the window, is refused.
    FUZZ_CHECK(!ferry::VerifyPeerRequest(kKey, method, target, body, date, nonce, good,
                                          kNow + 2 * ferry::kPeerMaxClockSkewSeconds + 1, nullptr)
                    .ok() ||
               !ferry::VerifyPeerRequest(kKey, method, target, body, date, nonce, good,
                                          kNow - 2 * ferry::kPeerMaxClockSkewSeconds - 1, nullptr)
                    .ok());
  }
  FUZZ_CHECK(!ferry::VerifyPeerRequest("", method, target, body, date, nonce, good, kNow, nullptr).ok());

  auto opened = ferry::OpenPeerSecret(kKey, target, sealed);
  FUZZ_CHECK(!opened.ok());  // forging AES-GCM is not something a fuzzer does
  std::string sealed_body = ferry::SealPeerSecret(kKey, target, body);
  auto round = ferry::OpenPeerSecret(kKey, target, sealed_body);
  FUZZ_CHECK(round.ok() && *round == body);
  FUZZ_CHECK(!ferry::OpenPeerSecret(kKey, target + "x", sealed_body).ok());
  return 0;
}
