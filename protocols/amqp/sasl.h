#pragma once
// Server-side SASL for the AMQP listener through Proton's plugin interface (Debian's Proton
// has no Cyrus SASL): ANONYMOUS, PLAIN (a device's SAS token as password, IoT Hub style) and
// MSSBCBS (IoT Hub's "authenticate later through $cbs", the Azure C SDK's choice).
#include <proton/transport.h>

namespace holdfast::amqp {

class Connection;

// Io thread, before the transport is bound. `connection` must outlive the transport.
void install_sasl(pn_transport_t* transport, Connection* connection);

}  // namespace holdfast::amqp
