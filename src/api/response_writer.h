// ResponseWriter: writes an ECS success body straight into a string, as JSON
// or XML, byte for byte what RenderSuccess (api/render.h) makes of the same
// nlohmann::json tree, without building the tree. For the large responses
// (DescribeImages with 100 images), where the tree's allocations were most of
// a request's cost.
//
// The caller writes each object's members in the order nlohmann::json keeps
// them: by key, bytewise ascending ("ImageId" before "ImageName", "OSName"
// before "OSNameEn"); an assert checks it. Keys are the caller's own names,
// printable ASCII without '"' or '\' (written as they are; an assert checks
// it); values may be anything. What each format makes of it:
//   JSON  json::dump(-1, ' ', false, replace): no whitespace, UTF-8 as is,
//         invalid UTF-8 as U+FFFD, control characters escaped; the document's
//         "RequestId" among the top-level keys in its sorted place.
//   XML   JsonToXmlDocument: the declaration, <{root}>, RequestId first, each
//         member <Key>text</Key> (text XML-escaped), a list under key K as
//         one <K> element per item (none when empty).
//
// Threading: one writer per response, used by one thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/render.h"

namespace ferry {

class ResponseWriter {
 public:
  // A success body: the XML root is `{action}Response`; `request_id` is
  // written as RenderSuccess writes it.
  ResponseWriter(ResponseFormat format, std::string_view action, std::string_view request_id);
  // One bare object (no RequestId, JSON only in practice): what a view's
  // nlohmann::json would dump to. `xml_root` names the XML element.
  static ResponseWriter Object(ResponseFormat format, std::string_view xml_root);

  void String(std::string_view key, std::string_view value);
  void Int(std::string_view key, int64_t value);
  void Uint(std::string_view key, uint64_t value);
  void Bool(std::string_view key, bool value);

  // A member that is an object: its members follow, then EndObject().
  void BeginObject(std::string_view key);
  void EndObject();
  // A member that is a list of objects: BeginItem() ... EndItem() per item,
  // then EndList().
  void BeginList(std::string_view key);
  void BeginItem();
  void EndItem();
  void EndList();

  // Room for `bytes` of document, so that a large body is not copied as it
  // grows.
  void Reserve(size_t bytes) { out_.reserve(bytes); }

  // The finished document; the writer is spent.
  std::string Finish() &&;

 private:
  struct Frame {
    enum Kind { kObject, kList } kind;
    std::string key;       // XML only: the member's key, the element of a list's items
    std::string last_key;  // the last member written (objects), for the order check
    bool empty = true;
  };

  struct Root {
    std::string xml_element;
  };
  ResponseWriter(ResponseFormat format, Root root, std::optional<std::string_view> request_id);

  // Starts member `key` of the current object: a comma and "key": (JSON) or
  // <key> (XML), and the document's RequestId first when it sorts before.
  void Key(std::string_view key);
  void CloseElement(std::string_view key);
  std::string FrameKey(std::string_view key) const;
  void Number(std::string_view key, std::string_view digits);
  void AppendJsonString(std::string_view text);

  const ResponseFormat format_;
  const std::string root_;
  std::optional<std::string> request_id_;  // until written
  std::vector<Frame> frames_;
  std::string out_;
};

}  // namespace ferry
