#include "api/accounts_admin.h"

#include <cctype>

#include "common/ids.h"
#include "common/log_safe.h"

namespace ferry {
namespace {

// A fresh random id collides with an existing one only by bad luck; a few
// draws make that practically impossible without looping forever on a
// directory that always refuses.
constexpr int kIdAttempts = 4;

}  // namespace

bool IsValidAccountName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  if (!std::isalnum(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

Result<AccessKeyRecord> CreateAccountWithKey(AccountDirectory& accounts, const std::string& name,
                                             const Clock& clock) {
  if (!IsValidAccountName(name)) {
    return InvalidArgument("InvalidParameter",
                           "The specified parameter \"AccountName\" is not valid: \"" + Echo(name) +
                               "\" must be 1-64 characters from A-Z a-z 0-9 . _ - starting with a "
                               "letter or digit.");
  }
  Result<AccountRecord> existing = accounts.FindAccountByName(name);
  if (existing.ok()) {
    return AlreadyExists(
        "InvalidAccountName.Duplicated",
        "The account name \"" + Echo(name) + "\" is already used by account " + existing->account_id + ".");
  }
  if (existing.status().code() != Code::kNotFound) return existing.status();

  AccountRecord account;
  account.name = name;
  account.is_root = false;
  account.creation_time = clock.Now();
  Status created;
  for (int attempt = 0; attempt < kIdAttempts; ++attempt) {
    // 16 digits starting with 1, as Alibaba Cloud UIDs do: below 2^53, so the
    // number (ImageOwnerId is a JSON number) survives JSON.parse in the JS SDKs.
    account.account_id = "1" + RandomDigits(15);
    created = accounts.CreateAccount(account);
    if (created.code() != Code::kAlreadyExists) break;
    // The name may have been taken concurrently; then retrying cannot help.
    if (accounts.FindAccountByName(name).ok()) {
      return AlreadyExists("InvalidAccountName.Duplicated",
                           "The account name \"" + Echo(name) + "\" is already in use.");
    }
  }
  if (!created.ok()) return created.WithContext("creating account \"" + Echo(name) + "\"");

  AccessKeyRecord key;
  key.access_key_id = "LTAI" + RandomAlnum(20);
  key.access_key_secret = RandomAlnum(30);
  key.account_id = account.account_id;
  key.enabled = true;
  key.creation_time = clock.Now();
  RETURN_IF_ERROR(
      accounts.AddAccessKey(key).WithContext("adding an AccessKey to account " + account.account_id));
  return key;
}

}  // namespace ferry
