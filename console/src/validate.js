// The API's rules for names and descriptions (src/region/names.cc), so a
// form refuses what the API would, with the API's words, before sending.

const CJK = /[\u3400-\u4DBF\u4E00-\u9FFF\uF900-\uFAFF]|[\uD840-\uD87A][\uDC00-\uDFFF]/u;

function isLetter(ch) {
  return /^[A-Za-z]$/.test(ch) || CJK.test(ch);
}

// null when `name` is a valid image name, else why not.
export function imageNameError(name) {
  const cps = Array.from(name);
  if (cps.length < 2 || cps.length > 128) return 'The name must be 2 to 128 characters long.';
  if (!isLetter(cps[0])) return 'The name must start with a letter or a Chinese character.';
  for (const ch of cps) {
    if (!(isLetter(ch) || /^[0-9.:_-]$/.test(ch))) {
      return 'The name may contain only letters, digits, Chinese characters and . : _ - (not "' + ch + '").';
    }
  }
  const lower = name.toLowerCase();
  if (lower.startsWith('acs:') || lower.startsWith('aliyun')) return 'The name must not start with acs: or aliyun.';
  if (lower.includes('http://') || lower.includes('https://')) return 'The name must not contain http:// or https://.';
  return null;
}

// null when `text` is a valid description (empty is), else why not.
export function descriptionError(text) {
  if (text === '') return null;
  const n = Array.from(text).length;
  const lower = text.toLowerCase();
  if (n < 2 || n > 256) return 'The description must be 2 to 256 characters long.';
  if (lower.startsWith('http://') || lower.startsWith('https://')) {
    return 'The description must not start with http:// or https://.';
  }
  return null;
}

// Account ids as ModifyImageSharePermission takes them: digits.
export function accountIdsError(list) {
  for (const id of list) {
    if (!/^[0-9]{1,20}$/.test(id)) return '"' + id + '" is not an account id (digits only).';
  }
  if (list.length > 10) return 'At most 10 accounts can be added or removed at once.';
  return null;
}
