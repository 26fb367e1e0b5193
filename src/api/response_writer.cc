#include "api/response_writer.h"

#include <cassert>
#include <charconv>

#include <nlohmann/json.hpp>

namespace ferry {
namespace {

constexpr std::string_view kRequestIdKey = "RequestId";

// Printable ASCII without '"' and '\': what json::dump writes as it is.
bool PlainJson(std::string_view text) {
  for (char c : text) {
    const auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b > 0x7e || c == '"' || c == '\\') return false;
  }
  return true;
}

}  // namespace

ResponseWriter::ResponseWriter(ResponseFormat format, std::string_view action, std::string_view request_id)
    : ResponseWriter(format, Root{std::string(action) + "Response"}, request_id) {}

ResponseWriter ResponseWriter::Object(ResponseFormat format, std::string_view xml_root) {
  return ResponseWriter(format, Root{std::string(xml_root)}, std::nullopt);
}

ResponseWriter::ResponseWriter(ResponseFormat format, Root root, std::optional<std::string_view> request_id)
    : format_(format), root_(std::move(root.xml_element)) {
  out_.reserve(4096);
  frames_.reserve(8);  // a view nests 4-5 deep
  frames_.push_back(Frame{Frame::kObject, root_, {}, true});
  if (format_ == ResponseFormat::kJson) {
    out_ += '{';
    if (request_id) request_id_ = std::string(*request_id);
    return;
  }
  out_ += "<?xml version=\"1.0\" encoding=\"UTF-8\"?><";
  out_ += root_;
  out_ += '>';
  if (request_id) {
    out_ += "<RequestId>";
    AppendXmlEscaped(*request_id, &out_);
    out_ += "</RequestId>";
  }
}

void ResponseWriter::AppendJsonString(std::string_view text) {
  if (PlainJson(text)) {
    out_ += '"';
    out_ += text;
    out_ += '"';
    return;
  }
  // Escapes and UTF-8 (valid or not) exactly as the tree's dump does.
  out_ += nlohmann::json(std::string(text)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void ResponseWriter::Key(std::string_view key) {
  Frame& frame = frames_.back();
  assert(frame.kind == Frame::kObject && "a member must be written inside an object");
#ifndef NDEBUG
  assert((frame.empty || frame.last_key < key) && "members must come in nlohmann::json's (sorted) order");
  frame.last_key = std::string(key);
#endif
  if (format_ == ResponseFormat::kXml) {
    out_ += '<';
    out_ += key;
    out_ += '>';
    return;
  }
  if (request_id_ && frames_.size() == 1 && key > kRequestIdKey) {
    std::string request_id = std::move(*request_id_);
    request_id_.reset();
    String(kRequestIdKey, request_id);
  }
  if (!frame.empty) out_ += ',';
  frame.empty = false;
  // Keys are the caller's own ASCII names: nothing in them to escape.
  assert(PlainJson(key));
  out_ += '"';
  out_ += key;
  out_ += "\":";
}

void ResponseWriter::CloseElement(std::string_view key) {
  out_ += "</";
  out_ += key;
  out_ += '>';
}

void ResponseWriter::String(std::string_view key, std::string_view value) {
  Key(key);
  if (format_ == ResponseFormat::kJson) {
    AppendJsonString(value);
    return;
  }
  AppendXmlEscaped(value, &out_);
  CloseElement(key);
}

void ResponseWriter::Number(std::string_view key, std::string_view digits) {
  Key(key);
  out_ += digits;
  if (format_ == ResponseFormat::kXml) CloseElement(key);
}

void ResponseWriter::Int(std::string_view key, int64_t value) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  Number(key, std::string_view(buf, end - buf));
}

void ResponseWriter::Uint(std::string_view key, uint64_t value) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  Number(key, std::string_view(buf, end - buf));
}

void ResponseWriter::Bool(std::string_view key, bool value) { Number(key, value ? "true" : "false"); }

std::string ResponseWriter::FrameKey(std::string_view key) const {
  // Only XML closes an element by its name: JSON skips the copy (a key of
  // more than 15 characters would be an allocation per object).
  return format_ == ResponseFormat::kXml ? std::string(key) : std::string();
}

void ResponseWriter::BeginObject(std::string_view key) {
  Key(key);
  if (format_ == ResponseFormat::kJson) out_ += '{';
  frames_.push_back(Frame{Frame::kObject, FrameKey(key), {}, true});
}

void ResponseWriter::EndObject() {
  assert(frames_.size() > 1 && frames_.back().kind == Frame::kObject);
  if (format_ == ResponseFormat::kJson) {
    out_ += '}';
  } else {
    CloseElement(frames_.back().key);
  }
  frames_.pop_back();
}

void ResponseWriter::BeginList(std::string_view key) {
  if (format_ == ResponseFormat::kJson) {
    Key(key);
    out_ += '[';
  } else {
#ifndef NDEBUG
    Frame& frame = frames_.back();
    assert(frame.kind == Frame::kObject && (frame.empty || frame.last_key < key));
    frame.last_key = std::string(key);
#endif
  }
  frames_.push_back(Frame{Frame::kList, FrameKey(key), {}, true});
}

void ResponseWriter::BeginItem() {
  Frame& list = frames_.back();
  assert(list.kind == Frame::kList && "an item must be written inside a list");
  if (format_ == ResponseFormat::kJson) {
    if (!list.empty) out_ += ',';
    out_ += '{';
  } else {
    out_ += '<';
    out_ += list.key;
    out_ += '>';
  }
  list.empty = false;
  frames_.push_back(Frame{Frame::kObject, {}, {}, true});
}

void ResponseWriter::EndItem() {
  assert(frames_.size() > 2 && frames_.back().kind == Frame::kObject);
  frames_.pop_back();
  if (format_ == ResponseFormat::kJson) {
    out_ += '}';
  } else {
    CloseElement(frames_.back().key);
  }
}

void ResponseWriter::EndList() {
  assert(frames_.size() > 1 && frames_.back().kind == Frame::kList);
  frames_.pop_back();
  if (format_ == ResponseFormat::kJson) out_ += ']';
}

std::string ResponseWriter::Finish() && {
  assert(frames_.size() == 1 && "every object and list must be ended");
  if (format_ == ResponseFormat::kJson) {
    if (request_id_) {
      std::string request_id = std::move(*request_id_);
      request_id_.reset();
      String(kRequestIdKey, request_id);
    }
    out_ += '}';
  } else {
    CloseElement(root_);
  }
  return std::move(out_);
}

}  // namespace ferry
