// Account administration shared by the CreateAccount admin action and the
// CLI's offline `ferry account create`.
//
// Threading: as thread-safe as the AccountDirectory passed in.
#pragma once

#include <string>

#include "catalog/catalog.h"
#include "common/clock.h"
#include "common/status.h"

namespace ferry {

// 1..64 characters from [A-Za-z0-9._-], starting with a letter or digit.
bool IsValidAccountName(const std::string& name);

// Creates a non-root account named `name` (16-digit id) and one enabled
// AccessKey for it ("LTAI" + 20 alphanumerics, 30-character secret).
// Fails with InvalidParameter for a malformed name and with
// kAlreadyExists / "InvalidAccountName.Duplicated" when the name is taken.
Result<AccessKeyRecord> CreateAccountWithKey(AccountDirectory& accounts, const std::string& name,
                                             const Clock& clock);

}  // namespace ferry
