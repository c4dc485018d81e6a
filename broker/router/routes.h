#pragma once
// RouteTable: which durable queues an address goes to. Pure data; any thread once built.
//
// A route maps an address pattern (an MQTT filter over '/'-separated addresses) to a queue-name
// template: "{1}", "{2}", ... stand for the levels the 1st, 2nd, ... '+' of the pattern
// matched, "{device}" for the IoT Hub device id of the address (or of the sender). So
// `devices/+/messages/events/#` -> `iothub/{1}` gives every device its own queue, and one device
// can never block another.

#include <string>
#include <string_view>
#include <vector>

#include "broker/core/message.h"
#include "broker/core/status.h"

namespace holdfast::broker {

struct Route {
  std::string pattern;
  std::string queue_template;
};

class RouteTable {
 public:
  // Validates every route (pattern is a valid filter, template only names wildcards the pattern
  // has, braces balanced). Errors: kInvalidArgument naming the route.
  static core::Result<RouteTable> build(std::vector<Route> routes);

  // The queues `address` goes to, in route order, without duplicates. Empty when no route
  // matches (or a matching route needs a device id the address and origin do not give).
  std::vector<std::string> resolve(const std::string& address, const core::Origin& origin) const;

  // Whether some route's queue template could have produced `name`: literal text matches
  // exactly, each placeholder ({1}..{9}, {device}) one non-empty run of characters without '/'.
  // So `iothub/{1}` names `iothub/dev1` but neither `iothub/` nor `iothub/a/b`.
  bool names_queue(std::string_view name) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

}  // namespace holdfast::broker
