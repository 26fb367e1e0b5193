// Response rendering: ECS success and error bodies as JSON or XML.
//
// JSON success: the handler's object plus "RequestId".
// XML success:  <?xml version="1.0" encoding="UTF-8"?><{Action}Response>...
//   each key is an element; an array under key K becomes repeated <K>
//   elements, so {"Images":{"Image":[a,b]}} is
//   <Images><Image>a</Image><Image>b</Image></Images>.
// Errors: {RequestId, HostId, Code, Message, Recommend}; XML root <Error>.
//
// Pure functions; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "api/errors.h"
#include "api/http_types.h"

namespace ferry {

enum class ResponseFormat { kJson, kXml };

inline constexpr const char* kJsonContentType = "application/json;charset=utf-8";
inline constexpr const char* kXmlContentType = "text/xml;charset=utf-8";

HttpResponse RenderSuccess(nlohmann::json body, const std::string& request_id, const std::string& action,
                           ResponseFormat format);
// A body a handler wrote itself (api/response_writer.h), in `format`.
HttpResponse RenderedSuccess(std::string body, ResponseFormat format);
HttpResponse RenderError(const EcsError& error, const std::string& request_id, const std::string& host_id,
                         ResponseFormat format);

// The diagnosis URL real gateways put in "Recommend".
std::string RecommendUrl(const std::string& code, const std::string& request_id);

// `value` (an object) as the children of <root>, with the XML declaration.
std::string JsonToXmlDocument(const nlohmann::json& value, const std::string& root);
std::string XmlEscape(std::string_view text);
void AppendXmlEscaped(std::string_view text, std::string* out);

}  // namespace ferry
