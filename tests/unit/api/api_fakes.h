// Fakes shared by the API infrastructure tests (auth, dispatcher, server,
// client): an in-memory AccountDirectory, a settable Clock, and signing
// helpers that build requests the way the SDKs do.
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "api/http_types.h"
#include "api/params.h"
#include "api/signature.h"
#include "catalog/catalog.h"
#include "common/clock.h"
#include "common/hash.h"

namespace ferry::apitest {

inline constexpr const char* kAccountId = "1234567890123456";
inline constexpr const char* kKeyId = "testid";
inline constexpr const char* kSecret = "testsecret";

class FakeClock final : public Clock {
 public:
  explicit FakeClock(UnixSeconds now) : now_(now) {}
  UnixSeconds Now() const override { return now_.load(); }
  std::chrono::steady_clock::time_point Steady() const override { return std::chrono::steady_clock::now(); }
  void Set(UnixSeconds t) { now_ = t; }

 private:
  std::atomic<UnixSeconds> now_;
};

class FakeAccounts final : public AccountDirectory {
 public:
  FakeAccounts() {
    accounts_[kAccountId] = AccountRecord{kAccountId, "root", true, 0};
    keys_[kKeyId] = AccessKeyRecord{kKeyId, kSecret, kAccountId, true, 0};
  }
  Status CreateAccount(const AccountRecord& a) override {
    std::lock_guard<std::mutex> lock(mu_);
    accounts_[a.account_id] = a;
    return Status::Ok();
  }
  Result<AccountRecord> GetAccount(const std::string& id) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = accounts_.find(id);
    if (it == accounts_.end()) return NotFound("", "account " + id);
    return it->second;
  }
  Result<AccountRecord> FindAccountByName(const std::string& name) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, a] : accounts_)
      if (a.name == name) return a;
    return NotFound("", "account " + name);
  }
  Result<std::vector<AccountRecord>> ListAccounts() override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<AccountRecord> out;
    for (auto& [id, a] : accounts_) out.push_back(a);
    return out;
  }
  Status AddAccessKey(const AccessKeyRecord& k) override {
    std::lock_guard<std::mutex> lock(mu_);
    keys_[k.access_key_id] = k;
    return Status::Ok();
  }
  Result<AccessKeyRecord> GetAccessKey(const std::string& id) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = keys_.find(id);
    if (it == keys_.end()) return NotFound("", "access key " + id);
    return it->second;
  }
  Result<std::vector<AccessKeyRecord>> ListAccessKeys(const std::string& account_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<AccessKeyRecord> out;
    for (auto& [id, k] : keys_)
      if (k.account_id == account_id) out.push_back(k);
    return out;
  }

 private:
  std::mutex mu_;
  std::map<std::string, AccountRecord> accounts_;
  std::map<std::string, AccessKeyRecord> keys_;
};

inline std::string EncodeAll(const std::map<std::string, std::string>& params) {
  std::string out;
  for (const auto& [k, v] : params)
    out += (out.empty() ? "" : "&") + PercentEncode(k) + "=" + PercentEncode(v);
  return out;
}

// A V1 request like pop-core (POST, form body) or a GET with the query. A
// "Timestamp" in `params` is sent as given.
inline HttpRequest SignedV1(const std::string& method, std::map<std::string, std::string> params,
                            UnixSeconds now, const std::string& nonce, const std::string& secret = kSecret,
                            const std::string& key_id = kKeyId) {
  params.emplace("AccessKeyId", key_id);
  params.emplace("SignatureMethod", "HMAC-SHA1");
  params.emplace("SignatureVersion", "1.0");
  params.emplace("SignatureNonce", nonce);
  params.emplace("Timestamp", FormatTimeSeconds(now));
  params.emplace("Version", "2014-05-26");
  params.emplace("Format", "JSON");
  params["Signature"] = V1Signature(secret, V1StringToSign(method, params));
  HttpRequest request;
  request.method = method;
  if (method == "GET") {
    request.target = "/?" + EncodeAll(params);
  } else {
    request.target = "/";
    request.headers["content-type"] = "application/x-www-form-urlencoded";
    request.body = EncodeAll(params);
  }
  return request;
}

// A V3 request like @alicloud/ecs20140526: params in the query; `date`, when
// given, is sent as x-acs-date instead of `now`.
inline HttpRequest SignedV3(const std::string& action, const std::map<std::string, std::string>& query,
                            UnixSeconds now, const std::string& nonce, const std::string& body = "",
                            const std::string& secret = kSecret, const std::string& date = "") {
  HttpRequest request;
  request.method = "POST";
  request.target = query.empty() ? "/" : "/?" + EncodeAll(query);
  request.body = body;
  request.headers = {
      {"host", "127.0.0.1:18080"},      {"x-acs-action", action},
      {"x-acs-version", "2014-05-26"},  {"x-acs-date", date.empty() ? FormatTimeSeconds(now) : date},
      {"x-acs-signature-nonce", nonce}, {"x-acs-content-sha256", Sha256Hex(body)},
      {"accept", "application/json"},   {"user-agent", "test"},
  };
  V3Request canonical;
  canonical.method = request.method;
  canonical.canonical_uri = "/";
  canonical.query = query;
  canonical.headers = request.headers;
  canonical.signed_headers = V3SignableHeaders(request.headers);
  canonical.hashed_payload = request.headers["x-acs-content-sha256"];
  V3Authorization authorization{kKeyId, canonical.signed_headers,
                                V3Signature(secret, V3StringToSign(V3CanonicalRequest(canonical)))};
  request.headers["authorization"] = FormatV3Authorization(authorization);
  return request;
}

}  // namespace ferry::apitest
