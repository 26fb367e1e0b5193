#include "api/render.h"

#include "api/params.h"

namespace ferry {
namespace {

constexpr const char* kXmlDeclaration = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";

std::string ScalarText(const nlohmann::json& v) {
  if (v.is_string()) return XmlEscape(v.get_ref<const std::string&>());
  if (v.is_null()) return "";
  return XmlEscape(v.dump());
}

void AppendElement(const std::string& name, const nlohmann::json& v, std::string* out);

void AppendChildren(const nlohmann::json& object, std::string* out) {
  for (auto it = object.begin(); it != object.end(); ++it) AppendElement(it.key(), it.value(), out);
}

void AppendElement(const std::string& name, const nlohmann::json& v, std::string* out) {
  if (v.is_array()) {
    for (const nlohmann::json& item : v) AppendElement(name, item, out);
    return;
  }
  *out += "<" + name + ">";
  if (v.is_object()) {
    AppendChildren(v, out);
  } else {
    *out += ScalarText(v);
  }
  *out += "</" + name + ">";
}

}  // namespace

std::string XmlEscape(std::string_view text) {
  std::string out;
  AppendXmlEscaped(text, &out);
  return out;
}

void AppendXmlEscaped(std::string_view text, std::string* out_ptr) {
  std::string& out = *out_ptr;
  out.reserve(out.size() + text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        // Control characters other than tab/CR/LF are not allowed in XML 1.0
        // at all, not even as references.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') break;
        out.push_back(c);
    }
  }
}

std::string JsonToXmlDocument(const nlohmann::json& value, const std::string& root) {
  std::string out = kXmlDeclaration;
  out += "<" + root + ">";
  if (value.is_object()) {
    // RequestId first, as the gateway writes it.
    auto rid = value.find("RequestId");
    if (rid != value.end()) AppendElement("RequestId", *rid, &out);
    for (auto it = value.begin(); it != value.end(); ++it) {
      if (it.key() != "RequestId") AppendElement(it.key(), it.value(), &out);
    }
  } else {
    out += ScalarText(value);
  }
  out += "</" + root + ">";
  return out;
}

HttpResponse RenderSuccess(nlohmann::json body, const std::string& request_id, const std::string& action,
                           ResponseFormat format) {
  nlohmann::json full = body.is_object() ? std::move(body) : nlohmann::json::object();
  full["RequestId"] = request_id;
  HttpResponse response;
  response.status = 200;
  if (format == ResponseFormat::kXml) {
    response.content_type = kXmlContentType;
    response.body = JsonToXmlDocument(full, action + "Response");
  } else {
    response.content_type = kJsonContentType;
    response.body = full.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  return response;
}

HttpResponse RenderedSuccess(std::string body, ResponseFormat format) {
  HttpResponse response;
  response.status = 200;
  response.content_type = format == ResponseFormat::kXml ? kXmlContentType : kJsonContentType;
  response.body = std::move(body);
  return response;
}

HttpResponse RenderError(const EcsError& error, const std::string& request_id, const std::string& host_id,
                         ResponseFormat format) {
  nlohmann::ordered_json body;
  body["RequestId"] = request_id;
  body["HostId"] = host_id;
  body["Code"] = error.code;
  body["Message"] = error.message;
  // Present because clients expect the key; Ferry sends nobody to another
  // company's troubleshooting site, and the Message says what to do.
  body["Recommend"] = "";
  HttpResponse response;
  response.status = error.http_status;
  if (format == ResponseFormat::kXml) {
    response.content_type = kXmlContentType;
    std::string xml = kXmlDeclaration;
    xml += "<Error>";
    for (auto it = body.begin(); it != body.end(); ++it) {
      xml +=
          "<" + it.key() + ">" + XmlEscape(it.value().get_ref<const std::string&>()) + "</" + it.key() + ">";
    }
    xml += "</Error>";
    response.body = std::move(xml);
  } else {
    response.content_type = kJsonContentType;
    response.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  return response;
}

}  // namespace ferry
