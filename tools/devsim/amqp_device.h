#pragma once
// AMQP devices, all multiplexed on ONE connection and ONE session, over plain TCP, on Proton-C's
// connection driver, in one of two dialogues:
//
// IoT Hub (`amqp-iothub`), as the Azure IoT C SDK multiplexes devices:
//   SASL MSSBCBS (empty response) -> OPEN -> one session -> `$cbs` sender and receiver -> one
//   put-token per device (message-id ulong 1..N, no reply-to, type
//   servicebus.windows.net:sastoken, name {hub}/devices/{id}) -> each reply (int status-code,
//   ulong correlation-id) -> that device's sender on amqps://{hub}/devices/{id}/messages/events
//   (and, with c2d, a receiver on .../messages/devicebound) -> every send is a batch: the body
//   is one `data` section per message, each a complete encoded message (properties,
//   application-properties, data), as the C SDK sends even single messages. Proton 0.37 cannot
//   set a transfer's message-format, so the 0x80013700 code itself is not sent; the shape is.
//
// Plain broker (`amqp`), as legacy devices talk to an on-premise broker: SASL ANONYMOUS, no
//   $cbs; each device attaches a sender to `address` with "{id}" replaced by its id and sends
//   one message per transfer.
//
// Every transfer is unsettled; a device keeps up to `window` transfers unsettled, paced by
// --rate (per device, from the moment its sender is attached), until --count or --duration
// (also counted from that moment). A put-token refused (not 200/202) or a sender detached with
// amqp:unauthorized-access ends that device with exit 3; another detach ends it with exit 2; the
// other devices carry on. The connection failing ends the run (exit 2).
//
// Output (common.h): a line per message sent; with c2d, {"device", "subscribed"} once its
// devicebound receiver is attached and a line per cloud-to-device message; the summary, with
// "devices", "accepted", "cbs_status" (IoT Hub: 200 when every put-token succeeded, else the
// first refusal's status), "cbs_description", "refusal" (the first rejected transfer's
// condition) and "error".
//
// Concurrency: run_amqp_devices() runs everything on the calling thread and blocks.
#include <cstddef>
#include <string>

#include "tools/devsim/common.h"

namespace holdfast::devsim {

struct AmqpDeviceOptions {
  bool iothub = true;                                    // false: the plain broker dialogue
  std::string address = "devices/{id}/messages/events";  // plain: each device's target
  std::size_t batch = 1;                                 // IoT Hub: messages per transfer
  int window = 16;                                       // unsettled transfers per device
  bool c2d = false;  // IoT Hub: a devicebound receiver per device; stay until --duration
};

// Runs the devices and prints their JSON lines and the summary; returns the exit status
// (common.h).
int run_amqp_devices(const CommonOptions& common, const Prepared& prepared,
                     const AmqpDeviceOptions& options, Output& out);

}  // namespace holdfast::devsim
