// Identifiers that look like ECS ids, and request ids.
// Thread-safe: randomness comes from OpenSSL's CSPRNG.
#pragma once

#include <string>
#include <string_view>

namespace ferry {

// `prefix` + "-" + 20 lowercase letters/digits, e.g. "m-bp1h46wfpjsjastc0001".
std::string NewResourceId(std::string_view prefix);
// Upper-case UUID v4 with hyphens, as ECS RequestIds look.
std::string NewRequestId();
// `n` random bytes as lower-case hex (2n characters), for nonces and secrets.
std::string RandomHex(size_t n);
// `n` random characters from [A-Za-z0-9], for AccessKey ids and secrets.
std::string RandomAlnum(size_t n);
// `n` random decimal digits, first one non-zero (account ids).
std::string RandomDigits(size_t n);

// True when `id` is prefix + "-" + 20 characters from [a-z0-9].
bool LooksLikeResourceId(std::string_view id, std::string_view prefix);

}  // namespace ferry
