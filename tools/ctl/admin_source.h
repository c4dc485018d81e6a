#pragma once
// The running holdfastd, reached through its admin endpoint over plain HTTP (cpp-httplib's
// blocking client). See source.h for what it answers and broker/admin/admin_server.h for the
// endpoint itself.

#include <memory>
#include <string>

#include "tools/ctl/source.h"

namespace holdfast::ctl {

struct AdminUrl {
  std::string host;
  int port = 0;
  std::string text;  // "http://HOST:PORT", for messages
};

// Accepts "http://HOST[:PORT][/]" (port 80 by default) and "HOST:PORT"; IPv6 hosts in
// brackets. Errors: kExitUsage, saying what a good URL looks like.
Outcome<AdminUrl> parse_admin_url(const std::string& url);

// The outcome of asking GET /readyz: a Source when holdfastd answered, else (source null) why
// nothing answered, e.g. "Connection". Errors: kExitFailed when something answers that is not
// holdfastd's admin endpoint.
struct Probe {
  std::unique_ptr<Source> source;
  std::string not_answering;
};
Outcome<Probe> probe_admin(const AdminUrl& url);

// Percent-encodes a queue name for a URL path ('/' kept: the endpoint matches the longest
// prefix before "/messages" or "/purge").
std::string encode_path(const std::string& name);

}  // namespace holdfast::ctl
