#include "region/names.h"

#include <algorithm>
#include <cctype>
#include <string_view>
#include <vector>

#include "common/log_safe.h"

namespace ferry {
namespace {

// Decodes UTF-8 into code points; false on malformed input.
bool DecodeUtf8(const std::string& s, std::vector<char32_t>* out) {
  out->clear();
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    int extra = 0;
    char32_t cp = 0;
    if (c < 0x80) {
      cp = c;
    } else if ((c & 0xE0) == 0xC0) {
      cp = c & 0x1F;
      extra = 1;
    } else if ((c & 0xF0) == 0xE0) {
      cp = c & 0x0F;
      extra = 2;
    } else if ((c & 0xF8) == 0xF0) {
      cp = c & 0x07;
      extra = 3;
    } else {
      return false;
    }
    if (i + extra >= s.size()) return false;  // truncated sequence
    for (int k = 1; k <= extra; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    out->push_back(cp);
    i += 1 + extra;
  }
  return true;
}

bool IsCjk(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0xF900 && cp <= 0xFAFF) ||
         (cp >= 0x20000 && cp <= 0x2EBEF);
}

bool IsAsciiLetter(char32_t cp) { return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z'); }

std::string Lower(const std::string& s) {
  std::string out = s;
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

bool StartsWith(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

bool HasUrl(const std::string& s) {
  std::string l = Lower(s);
  return l.find("http://") != std::string::npos || l.find("https://") != std::string::npos;
}

Status BadEnum(const std::string& name, const std::string& value, const std::string& allowed) {
  return InvalidArgument("InvalidParameter", "The specified parameter \"" + Echo(name) +
                                                 "\" is not valid: \"" + Echo(value) +
                                                 "\" (allowed: " + allowed + ").");
}

}  // namespace

long Utf8Length(const std::string& s) {
  std::vector<char32_t> cps;
  if (!DecodeUtf8(s, &cps)) return -1;
  return static_cast<long>(cps.size());
}

Status ValidateImageName(const std::string& name, const char* reason) {
  auto bad = [&](const std::string& why) {
    return InvalidArgument(reason, "The specified name \"" + Echo(name) + "\" is malformed: " + why + ".");
  };
  std::vector<char32_t> cps;
  if (!DecodeUtf8(name, &cps)) return bad("it is not valid UTF-8");
  if (cps.size() < 2 || cps.size() > 128) return bad("it must be 2 to 128 characters long");
  if (!IsAsciiLetter(cps[0]) && !IsCjk(cps[0]))
    return bad("it must start with a letter or a Chinese character");
  for (char32_t cp : cps) {
    bool ok = IsAsciiLetter(cp) || (cp >= '0' && cp <= '9') || cp == '.' || cp == ':' || cp == '_' ||
              cp == '-' || IsCjk(cp);
    if (!ok) return bad("it may contain only letters, digits, Chinese characters and . : _ -");
  }
  std::string lower = Lower(name);
  if (StartsWith(lower, "acs:") || StartsWith(lower, "aliyun"))
    return bad("it must not start with acs: or aliyun");
  if (HasUrl(name)) return bad("it must not contain http:// or https://");
  return Status::Ok();
}

Status ValidateDescription(const std::string& description) {
  if (description.empty()) return Status::Ok();
  long len = Utf8Length(description);
  std::string lower = Lower(description);
  if (len < 2 || len > 256 || StartsWith(lower, "http://") || StartsWith(lower, "https://")) {
    return InvalidArgument(
        "InvalidDescription.Malformed",
        "The specified description is malformed: it must be 2 to 256 characters and must not "
        "start with http:// or https://.");
  }
  return Status::Ok();
}

Status ValidateArchitecture(const std::string& architecture) {
  if (architecture == "i386" || architecture == "x86_64" || architecture == "arm64") return Status::Ok();
  return BadEnum("Architecture", architecture, "i386, x86_64, arm64");
}

Status ValidateOsType(const std::string& os_type) {
  if (os_type == "linux" || os_type == "windows") return Status::Ok();
  return BadEnum("OSType", os_type, "linux, windows");
}

Status ValidatePlatform(const std::string& platform) {
  bool ok = !platform.empty() && platform.size() <= 64;
  for (unsigned char c : platform) {
    if (c < 0x20 || c == 0x7F) ok = false;
  }
  if (ok) return Status::Ok();
  return BadEnum("Platform", platform, "1-64 printable characters, e.g. CentOS, Ubuntu, Others Linux");
}

Status ValidateBootMode(const std::string& boot_mode) {
  if (boot_mode == "BIOS" || boot_mode == "UEFI" || boot_mode == "UEFI-Preferred") return Status::Ok();
  return BadEnum("BootMode", boot_mode, "BIOS, UEFI, UEFI-Preferred");
}

Status ValidateLicenseType(const std::string& license_type) {
  if (license_type.empty() || license_type == "Auto" || license_type == "Aliyun" || license_type == "BYOL") {
    return Status::Ok();
  }
  return BadEnum("LicenseType", license_type, "Auto, Aliyun, BYOL");
}

Status ValidateTags(const Tags& tags) {
  if (tags.size() > 20) {
    return InvalidArgument("InvalidTagCount", "The specified tags are beyond the permitted range (" +
                                                  std::to_string(tags.size()) + " > 20).");
  }
  for (const auto& [key, value] : tags) {
    long klen = Utf8Length(key);
    std::string lower = Lower(key);
    if (klen < 1 || klen > 128 || StartsWith(lower, "aliyun") || StartsWith(lower, "acs:") || HasUrl(key)) {
      return InvalidArgument("InvalidTagKey.Malformed",
                             "The specified Tag.n.Key \"" + Echo(key) + "\" is not valid.");
    }
    long vlen = Utf8Length(value);
    if (vlen < 0 || vlen > 128 || StartsWith(Lower(value), "acs:")) {
      return InvalidArgument("InvalidTagValue.Malformed",
                             "The specified Tag.n.Value \"" + Echo(value) + "\" is not valid.");
    }
  }
  return Status::Ok();
}

Status ValidatePassword(const std::string& password) {
  static constexpr std::string_view kSpecial = "()`~!@#$%^&*-_+=|{}[]:;'<>,.?/";
  const auto bad = [](const std::string& why) {
    return InvalidArgument("InvalidParameter",
                           "The specified parameter \"Password\" is not valid: " + why + ".");
  };
  if (password.size() < 8 || password.size() > 30) {
    return bad("it is " + std::to_string(password.size()) + " characters long, not 8 to 30");
  }
  bool upper = false, lower = false, digit = false, special = false;
  for (char ch : password) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (std::isupper(c)) {
      upper = true;
    } else if (std::islower(c)) {
      lower = true;
    } else if (std::isdigit(c)) {
      digit = true;
    } else if (kSpecial.find(ch) != std::string_view::npos) {
      special = true;
    } else {
      return bad("it may hold letters, digits and the special characters " + std::string(kSpecial) + " only");
    }
  }
  if (int{upper} + int{lower} + int{digit} + int{special} < 3) {
    return bad(
        "it must hold at least three of: upper-case letters, lower-case letters, digits, special characters");
  }
  return Status::Ok();
}

Status ValidateHostName(const std::string& host_name, bool windows) {
  const auto bad = [&](const std::string& why) {
    return InvalidArgument("InvalidParameter", "The specified parameter \"HostName\" is not valid: \"" +
                                                   Echo(host_name) + "\" " + why + ".");
  };
  const size_t max = windows ? 15 : 64;
  if (host_name.size() < 2 || host_name.size() > max) {
    return bad("must be 2 to " + std::to_string(max) + " characters long");
  }
  bool all_digits = true;
  for (size_t i = 0; i < host_name.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(host_name[i]);
    const bool dot = c == '.', dash = c == '-';
    if (!std::isalnum(c) && !dot && !dash) return bad("may hold letters, digits, '.' and '-' only");
    if (windows && dot) return bad("must not hold '.' (Windows)");
    if (!std::isdigit(c)) all_digits = false;
    if ((dot || dash) && (i == 0 || i + 1 == host_name.size()))
      return bad("must not start or end with '.' or '-'");
    if ((dot || dash) && host_name[i + 1] == host_name[i]) return bad("must not hold \"..\" or \"--\"");
  }
  if (windows && all_digits) return bad("must not be only digits (Windows)");
  return Status::Ok();
}

bool IsImageStatus(const std::string& status) {
  return status == "Creating" || status == "Waiting" || status == "Available" || status == "UnAvailable" ||
         status == "CreateFailed" || status == "Deprecated";
}

}  // namespace ferry
