#pragma once
// What a CoAP request means to Holdfast, apart from libcoap: the address its Uri-Path names,
// the content type its Content-Format names, and the options of a GET (Uri-Query).
// Pure functions; any thread; never block.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/core/status.h"

namespace holdfast::coap {

// The address of a request: its Uri-Path segments joined with '/'. Errors (kInvalidArgument,
// answered 4.00): no path, an empty segment, a segment holding '/', '+', '#' or NUL (an MQTT
// wildcard or separator cannot be part of one level).
core::Result<std::string> address_from_path(const std::vector<std::string>& segments);

// The same for the filter an observer names: '+' and '#' are allowed as whole segments, as in
// MQTT filters.
core::Result<std::string> filter_from_path(const std::vector<std::string>& segments);

// Content-Format number -> the message's content type: the registered media type for the
// common formats (0 "text/plain;charset=utf-8", 42 "application/octet-stream", 50
// "application/json", 60 "application/cbor", ...), else the number in decimal ("11542").
std::string content_type_for(std::uint16_t format);
// The reverse, for answers: nullopt when the content type has no Content-Format number.
std::optional<std::uint16_t> format_for(std::string_view content_type);

// A GET on a queue: `peek` (?peek or ?mode=peek) leaves the message in the queue, otherwise it
// is taken; `wait` (?wait=MS) is how long to wait for a message when the queue is empty.
struct GetQuery {
  bool peek = false;
  std::optional<std::chrono::milliseconds> wait;
};
// Errors: kInvalidArgument naming the bad query parameter.
core::Result<GetQuery> parse_get_query(const std::vector<std::string>& queries);

}  // namespace holdfast::coap
