#pragma once
// Queue-name templates of [[route]] tables. Pure functions; any thread; never block.
//
// A template is literal text with placeholders:
//   {1} .. {9}     the level matched by the 1st .. 9th '+' wildcard of the route's pattern
//   {device}       the IoT Hub device id: from a devices/{id}/... address, else the sender's
//                  (Origin::device_id)
// These are the rules broker/router's RouteTable applies; checking them here gives the
// operator a file and line.
// '{' and '}' appear only in placeholders. Literal text must not contain '+', '#' or NUL, so
// that every expansion is a valid queue name when the substituted levels are.
// Example: pattern "devices/+/messages/events/#", queue "iothub/{1}".

#include <string_view>

#include "broker/core/status.h"

namespace holdfast::config {

// OK when `queue_template` is well formed and references only wildcards `pattern` has.
// `pattern` must be a valid topic filter. Errors: kInvalidArgument with a reason that reads
// well after "queue template \"...\" ", e.g. "references {2}, but the pattern
// \"a/+/b\" has only 1 '+' wildcard".
core::Status check_queue_template(std::string_view pattern, std::string_view queue_template);

}  // namespace holdfast::config
