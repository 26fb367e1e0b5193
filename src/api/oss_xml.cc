#include "api/oss_xml.h"

#include <expat.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <memory>

#include "api/oss_request.h"
#include "api/params.h"
#include "api/render.h"
#include "common/hash.h"

namespace ferry {
namespace {

constexpr std::string_view kXmlDeclaration = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// The length of the valid UTF-8 sequence at s[i] (1-4), or 0 when the
// bytes there are not one (overlong, surrogate, above U+10FFFF, cut).
size_t Utf8SequenceLength(std::string_view s, size_t i, uint32_t* code_point) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  size_t n = 0;
  uint32_t cp = 0;
  if (c < 0x80) {
    *code_point = c;
    return 1;
  } else if ((c & 0xE0) == 0xC0) {
    n = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  *code_point = cp;
  return n;
}

// One element with escaped text: <name>text</name>.
void Element(std::string* out, std::string_view name, std::string_view text) {
  *out += "<";
  *out += name;
  *out += ">";
  *out += OssXmlEscape(text);
  *out += "</";
  *out += name;
  *out += ">";
}

// A tenant's key, prefix or marker: percent-encoded under encoding-type=url.
void KeyElement(std::string* out, std::string_view name, std::string_view text, bool url_encoding) {
  Element(out, name, url_encoding ? PercentEncode(text) : std::string(text));
}

void Bool(std::string* out, std::string_view name, bool value) {
  Element(out, name, value ? "true" : "false");
}

void Number(std::string* out, std::string_view name, int64_t value) {
  Element(out, name, std::to_string(value));
}

void Owner(std::string* out, const OssOwner& owner) {
  *out += "<Owner>";
  Element(out, "ID", owner.id);
  Element(out, "DisplayName", owner.display_name);
  *out += "</Owner>";
}

void ObjectContents(std::string* out, const OssObjectEntry& entry, bool url_encoding, const OssOwner* owner) {
  *out += "<Contents>";
  KeyElement(out, "Key", entry.key, url_encoding);
  Element(out, "LastModified", FormatOssXmlTime(entry.last_modified));
  Element(out, "ETag", entry.etag);
  Element(out, "Type", entry.type);
  Number(out, "Size", static_cast<int64_t>(entry.size));
  Element(out, "StorageClass", entry.storage_class);
  if (owner != nullptr) Owner(out, *owner);
  *out += "</Contents>";
}

void CommonPrefixes(std::string* out, const std::vector<std::string>& prefixes, bool url_encoding) {
  for (const std::string& prefix : prefixes) {
    *out += "<CommonPrefixes>";
    KeyElement(out, "Prefix", prefix, url_encoding);
    *out += "</CommonPrefixes>";
  }
}

// ---- parsing ----

constexpr size_t kMaxXmlDepth = 4;
constexpr size_t kMaxXmlNodes = 3 * kOssMaxCompleteParts + 16;
constexpr size_t kMaxXmlTextBytes = 2048;

// The parsed document: a bounded tree of elements and their text.
struct XmlNode {
  std::string name;
  std::string text;
  std::vector<size_t> children;  // indices into XmlTree::nodes
};

struct XmlTree {
  std::vector<XmlNode> nodes;  // nodes[0] is the root
  std::vector<size_t> open;    // the path to the element being read
  std::string error;           // why the parse was stopped, "" if it was not
  XML_Parser parser = nullptr;

  void Stop(std::string why) {
    if (error.empty()) error = std::move(why);
    XML_StopParser(parser, XML_FALSE);
  }
};

void XMLCALL OnStart(void* data, const XML_Char* name, const XML_Char** /*attributes*/) {
  auto* tree = static_cast<XmlTree*>(data);
  if (!tree->error.empty()) return;
  if (tree->open.size() >= kMaxXmlDepth) return tree->Stop("elements nest too deep");
  if (tree->nodes.size() >= kMaxXmlNodes) return tree->Stop("too many elements");
  if (tree->open.empty() && !tree->nodes.empty()) return tree->Stop("more than one root element");
  tree->nodes.push_back(XmlNode{name, "", {}});
  const size_t index = tree->nodes.size() - 1;
  if (!tree->open.empty()) tree->nodes[tree->open.back()].children.push_back(index);
  tree->open.push_back(index);
}

void XMLCALL OnEnd(void* data, const XML_Char* /*name*/) {
  auto* tree = static_cast<XmlTree*>(data);
  if (!tree->open.empty()) tree->open.pop_back();
}

void XMLCALL OnText(void* data, const XML_Char* text, int length) {
  auto* tree = static_cast<XmlTree*>(data);
  if (!tree->error.empty() || tree->open.empty()) return;
  std::string& into = tree->nodes[tree->open.back()].text;
  if (into.size() + static_cast<size_t>(length) > kMaxXmlTextBytes)
    return tree->Stop("an element's text is too long");
  into.append(text, static_cast<size_t>(length));
}

void XMLCALL OnDoctype(void* data, const XML_Char*, const XML_Char*, const XML_Char*, int) {
  static_cast<XmlTree*>(data)->Stop("a DOCTYPE is not allowed");
}

void XMLCALL OnEntity(void* data, const XML_Char*, int, const XML_Char*, int, const XML_Char*,
                      const XML_Char*, const XML_Char*, const XML_Char*) {
  static_cast<XmlTree*>(data)->Stop("entity declarations are not allowed");
}

Status MalformedXml(const std::string& why) {
  return InvalidArgument("MalformedXML",
                         "The XML you provided was not well-formed or did not validate against our published "
                         "schema: " +
                             why + ".");
}

Result<XmlTree> ParseXml(std::string_view body, std::string_view root) {
  if (body.size() > kOssMaxXmlBodyBytes) {
    return MalformedXml("the body is " + std::to_string(body.size()) + " bytes, at most " +
                        std::to_string(kOssMaxXmlBodyBytes));
  }
  std::unique_ptr<std::remove_pointer_t<XML_Parser>, decltype(&XML_ParserFree)> parser(
      XML_ParserCreate("UTF-8"), &XML_ParserFree);
  if (!parser) return Internal("expat could not allocate a parser");
  XmlTree tree;
  tree.parser = parser.get();
  XML_SetUserData(parser.get(), &tree);
  XML_SetElementHandler(parser.get(), &OnStart, &OnEnd);
  XML_SetCharacterDataHandler(parser.get(), &OnText);
  XML_SetStartDoctypeDeclHandler(parser.get(), &OnDoctype);
  XML_SetEntityDeclHandler(parser.get(), &OnEntity);
  const XML_Status status =
      XML_Parse(parser.get(), body.data(), static_cast<int>(body.size()), /*isFinal=*/XML_TRUE);
  if (!tree.error.empty()) return MalformedXml(tree.error);
  if (status != XML_STATUS_OK) {
    return MalformedXml(std::string(XML_ErrorString(XML_GetErrorCode(parser.get()))) + " at line " +
                        std::to_string(XML_GetCurrentLineNumber(parser.get())));
  }
  if (tree.nodes.empty() || tree.nodes[0].name != root) {
    return MalformedXml("the root element must be <" + std::string(root) + ">");
  }
  tree.parser = nullptr;
  return tree;
}

bool IsBlank(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
}

std::string_view TrimBlank(std::string_view s) {
  while (!s.empty() && IsBlank(s.substr(0, 1))) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.substr(s.size() - 1))) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string OssXmlEscape(std::string_view text) {
  // First what XML 1.0 cannot carry at all, not even as a character
  // reference, becomes U+FFFD; then the ECS wire's escaping of markup.
  std::string valid;
  valid.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    uint32_t cp = 0;
    const size_t n = Utf8SequenceLength(text, i, &cp);
    const bool allowed = n != 0 && cp != 0xFFFE && cp != 0xFFFF && (cp >= 0x20 || cp == '\t' || cp == '\n');
    if (allowed) {
      valid.append(text.substr(i, n));
    } else {
      valid += kReplacement;
    }
    i += n == 0 ? 1 : n;
  }
  return XmlEscape(valid);
}

std::string RenderOssListBuckets(const OssListBucketsResult& r) {
  std::string out(kXmlDeclaration);
  out += "<ListAllMyBucketsResult>";
  Element(&out, "Prefix", r.prefix);
  Element(&out, "Marker", r.marker);
  Number(&out, "MaxKeys", r.max_keys);
  Bool(&out, "IsTruncated", r.is_truncated);
  if (r.is_truncated) Element(&out, "NextMarker", r.next_marker);
  Owner(&out, r.owner);
  out += "<Buckets>";
  for (const OssBucketEntry& b : r.buckets) {
    out += "<Bucket>";
    Element(&out, "CreationDate", FormatOssXmlTime(b.creation_time));
    Element(&out, "ExtranetEndpoint", b.extranet_endpoint);
    Element(&out, "IntranetEndpoint", b.intranet_endpoint);
    Element(&out, "Location", b.location);
    Element(&out, "Name", b.name);
    Element(&out, "Region", b.region);
    Element(&out, "StorageClass", b.storage_class);
    out += "</Bucket>";
  }
  out += "</Buckets></ListAllMyBucketsResult>";
  return out;
}

std::string RenderOssListObjects(const OssListObjectsResult& r) {
  std::string out(kXmlDeclaration);
  out += "<ListBucketResult>";
  Element(&out, "Name", r.bucket);
  KeyElement(&out, "Prefix", r.prefix, r.url_encoding);
  KeyElement(&out, "Marker", r.marker, r.url_encoding);
  Number(&out, "MaxKeys", r.max_keys);
  KeyElement(&out, "Delimiter", r.delimiter, r.url_encoding);
  Bool(&out, "IsTruncated", r.is_truncated);
  if (r.is_truncated) KeyElement(&out, "NextMarker", r.next_marker, r.url_encoding);
  if (r.url_encoding) Element(&out, "EncodingType", "url");
  for (const OssObjectEntry& entry : r.contents) ObjectContents(&out, entry, r.url_encoding, &r.owner);
  CommonPrefixes(&out, r.common_prefixes, r.url_encoding);
  out += "</ListBucketResult>";
  return out;
}

std::string RenderOssListObjectsV2(const OssListObjectsV2Result& r) {
  std::string out(kXmlDeclaration);
  out += "<ListBucketResult>";
  Element(&out, "Name", r.bucket);
  KeyElement(&out, "Prefix", r.prefix, r.url_encoding);
  if (r.has_start_after) KeyElement(&out, "StartAfter", r.start_after, r.url_encoding);
  if (r.has_continuation_token) Element(&out, "ContinuationToken", r.continuation_token);
  Number(&out, "MaxKeys", r.max_keys);
  KeyElement(&out, "Delimiter", r.delimiter, r.url_encoding);
  if (r.url_encoding) Element(&out, "EncodingType", "url");
  Bool(&out, "IsTruncated", r.is_truncated);
  if (r.is_truncated) KeyElement(&out, "NextContinuationToken", r.next_continuation_token, r.url_encoding);
  Number(&out, "KeyCount", static_cast<int64_t>(r.contents.size() + r.common_prefixes.size()));
  for (const OssObjectEntry& entry : r.contents) {
    ObjectContents(&out, entry, r.url_encoding, r.fetch_owner ? &r.owner : nullptr);
  }
  CommonPrefixes(&out, r.common_prefixes, r.url_encoding);
  out += "</ListBucketResult>";
  return out;
}

std::string RenderOssListParts(const OssListPartsResult& r) {
  std::string out(kXmlDeclaration);
  out += "<ListPartsResult>";
  Element(&out, "Bucket", r.bucket);
  Element(&out, "Key", r.key);
  Element(&out, "UploadId", r.upload_id);
  Number(&out, "PartNumberMarker", r.part_number_marker);
  Number(&out, "NextPartNumberMarker", r.next_part_number_marker);
  Number(&out, "MaxParts", r.max_parts);
  Bool(&out, "IsTruncated", r.is_truncated);
  for (const OssPartEntry& part : r.parts) {
    out += "<Part>";
    Number(&out, "PartNumber", part.part_number);
    Element(&out, "LastModified", FormatOssXmlTime(part.last_modified));
    Element(&out, "ETag", part.etag);
    if (!part.crc64.empty()) Element(&out, "HashCrc64ecma", part.crc64);
    Number(&out, "Size", static_cast<int64_t>(part.size));
    out += "</Part>";
  }
  out += "</ListPartsResult>";
  return out;
}

std::string RenderOssListUploads(const OssListUploadsResult& r) {
  std::string out(kXmlDeclaration);
  out += "<ListMultipartUploadsResult>";
  Element(&out, "Bucket", r.bucket);
  if (r.url_encoding) Element(&out, "EncodingType", "url");
  KeyElement(&out, "KeyMarker", r.key_marker, r.url_encoding);
  Element(&out, "UploadIdMarker", r.upload_id_marker);
  KeyElement(&out, "NextKeyMarker", r.next_key_marker, r.url_encoding);
  Element(&out, "NextUploadIdMarker", r.next_upload_id_marker);
  KeyElement(&out, "Delimiter", r.delimiter, r.url_encoding);
  KeyElement(&out, "Prefix", r.prefix, r.url_encoding);
  Number(&out, "MaxUploads", r.max_uploads);
  Bool(&out, "IsTruncated", r.is_truncated);
  for (const OssUploadEntry& upload : r.uploads) {
    out += "<Upload>";
    KeyElement(&out, "Key", upload.key, r.url_encoding);
    Element(&out, "UploadId", upload.upload_id);
    Element(&out, "Initiated", FormatOssXmlTime(upload.initiated));
    out += "</Upload>";
  }
  CommonPrefixes(&out, r.common_prefixes, r.url_encoding);
  out += "</ListMultipartUploadsResult>";
  return out;
}

std::string RenderOssInitiateMultipartUpload(std::string_view bucket, std::string_view key,
                                             std::string_view upload_id) {
  std::string out(kXmlDeclaration);
  out += "<InitiateMultipartUploadResult>";
  Element(&out, "Bucket", bucket);
  Element(&out, "Key", key);
  Element(&out, "UploadId", upload_id);
  out += "</InitiateMultipartUploadResult>";
  return out;
}

std::string RenderOssCompleteMultipartUpload(const OssCompleteResult& r) {
  std::string out(kXmlDeclaration);
  out += "<CompleteMultipartUploadResult>";
  if (r.url_encoding) Element(&out, "EncodingType", "url");
  Element(&out, "Location", r.location);
  Element(&out, "Bucket", r.bucket);
  KeyElement(&out, "Key", r.key, r.url_encoding);
  Element(&out, "ETag", r.etag);
  out += "</CompleteMultipartUploadResult>";
  return out;
}

std::string RenderOssDeleteResult(const OssDeleteResult& r) {
  std::string out(kXmlDeclaration);
  out += "<DeleteResult>";
  if (r.url_encoding) Element(&out, "EncodingType", "url");
  for (const std::string& key : r.deleted) {
    out += "<Deleted>";
    KeyElement(&out, "Key", key, r.url_encoding);
    out += "</Deleted>";
  }
  out += "</DeleteResult>";
  return out;
}

std::string RenderOssCopyObjectResult(std::string_view etag, UnixSeconds last_modified) {
  std::string out(kXmlDeclaration);
  out += "<CopyObjectResult>";
  Element(&out, "ETag", etag);
  Element(&out, "LastModified", FormatOssXmlTime(last_modified));
  out += "</CopyObjectResult>";
  return out;
}

std::string RenderOssError(const OssError& error, std::string_view request_id, std::string_view host_id) {
  std::string out(kXmlDeclaration);
  out += "<Error>";
  Element(&out, "Code", error.code);
  Element(&out, "Message", error.message);
  Element(&out, "RequestId", request_id);
  Element(&out, "HostId", host_id);
  if (error.mismatch) {
    Element(&out, "OSSAccessKeyId", error.mismatch->access_key_id);
    Element(&out, "SignatureProvided", error.mismatch->signature_provided);
    Element(&out, "StringToSign", error.mismatch->string_to_sign);
  }
  if (!error.ec.empty()) Element(&out, "EC", error.ec);
  out += "</Error>";
  return out;
}

std::string OssErrHeader(const OssError& error, std::string_view request_id, std::string_view host_id) {
  return Base64Encode(RenderOssError(error, request_id, host_id));
}

Result<std::vector<OssCompletePart>> ParseOssCompleteMultipartUpload(std::string_view body) {
  ASSIGN_OR_RETURN(XmlTree tree, ParseXml(body, "CompleteMultipartUpload"));
  std::vector<OssCompletePart> parts;
  for (size_t index : tree.nodes[0].children) {
    const XmlNode& part = tree.nodes[index];
    if (part.name != "Part")
      return MalformedXml("<" + part.name + "> is not allowed in CompleteMultipartUpload");
    OssCompletePart out;
    bool have_number = false;
    bool have_etag = false;
    for (size_t child : part.children) {
      const XmlNode& field = tree.nodes[child];
      if (field.name == "PartNumber" && !have_number) {
        const std::string_view text = TrimBlank(field.text);
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out.part_number);
        if (ec != std::errc() || end != text.data() + text.size() || out.part_number < 1 ||
            out.part_number > kOssMaxPartNumber) {
          return MalformedXml("PartNumber must be an integer from 1 to " + std::to_string(kOssMaxPartNumber));
        }
        have_number = true;
      } else if (field.name == "ETag" && !have_etag) {
        out.etag = std::string(TrimBlank(field.text));
        if (out.etag.empty() || out.etag.size() > 128) return MalformedXml("ETag must be 1-128 characters");
        have_etag = true;
      } else if (field.name == "PartNumber" || field.name == "ETag") {
        return MalformedXml("a Part has two <" + field.name + ">");
      }
    }
    if (!have_number || !have_etag) return MalformedXml("each Part needs a PartNumber and an ETag");
    if (parts.size() >= kOssMaxCompleteParts) {
      return MalformedXml("more than " + std::to_string(kOssMaxCompleteParts) + " parts");
    }
    parts.push_back(std::move(out));
  }
  if (parts.empty()) return MalformedXml("CompleteMultipartUpload lists no Part");
  return parts;
}

Result<OssDeleteRequest> ParseOssDeleteRequest(std::string_view body) {
  ASSIGN_OR_RETURN(XmlTree tree, ParseXml(body, "Delete"));
  OssDeleteRequest out;
  bool have_quiet = false;
  for (size_t index : tree.nodes[0].children) {
    const XmlNode& node = tree.nodes[index];
    if (node.name == "Quiet" && !have_quiet) {
      std::string value(TrimBlank(node.text));
      std::transform(value.begin(), value.end(), value.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      if (value != "true" && value != "false") return MalformedXml("Quiet must be true or false");
      out.quiet = value == "true";
      have_quiet = true;
    } else if (node.name == "Object") {
      const XmlNode* key = nullptr;
      for (size_t child : node.children) {
        if (tree.nodes[child].name != "Key") continue;
        if (key != nullptr) return MalformedXml("an Object has two <Key>");
        key = &tree.nodes[child];
      }
      if (key == nullptr) return MalformedXml("each Object needs a Key");
      if (out.keys.size() >= kOssMaxDeleteObjects) {
        return MalformedXml("more than " + std::to_string(kOssMaxDeleteObjects) + " objects");
      }
      RETURN_IF_ERROR(ValidateOssKey(key->text));
      out.keys.push_back(key->text);
    } else {
      return MalformedXml("<" + node.name + "> is not allowed in Delete");
    }
  }
  if (out.keys.empty()) return MalformedXml("Delete lists no Object");
  return out;
}

}  // namespace ferry
