#pragma once
// CoAP devices on libcoap 4.3's client API: each device is one UDP session POSTing its
// payloads to devices/{id}/messages/events (Content-Format 42, application/octet-stream), CON
// or, with non_confirmable, NON, one request outstanding per device as RFC 7252 asks (NSTART
// 1), paced by --rate, until --count or --duration. A 2.01 or 2.04 answer acknowledges the
// message (Holdfast answers once it is durable); any other code refuses it; a CON that libcoap
// gives up retransmitting, or a request unanswered for --timeout-ms, ends the device (exit 2).
// CoAP has no message properties: the message id in the JSON line is the simulator's own.
//
// Concurrency: run_coap_devices() runs libcoap's context on the calling thread and blocks.
#include "tools/devsim/common.h"

namespace holdfast::devsim {

struct CoapDeviceOptions {
  bool non_confirmable = false;
};

// Runs the devices and prints their JSON lines and the summary; returns the exit status
// (common.h).
int run_coap_devices(const CommonOptions& common, const Prepared& prepared,
                     const CoapDeviceOptions& options, Output& out);

}  // namespace holdfast::devsim
