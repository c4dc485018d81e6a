#include "tools/hubsim/c2d.h"

#include "broker/core/address.h"

namespace holdfast::hubsim {
namespace {

std::string device_of(const std::string& address) {
  auto d = core::parse_device_address(address);
  return d && d->endpoint == core::DeviceEndpoint::kDeviceBound ? d->device_id : std::string();
}

}  // namespace

core::Status C2dQueues::send(const std::string& device, core::Message message) {
  Device& d = devices_[device];
  if (d.waiting.size() + d.unsettled.size() >= kMaxPerDevice) {
    return {core::Code::kResourceExhausted, "device '" + device + "' has " +
                                                std::to_string(kMaxPerDevice) +
                                                " cloud-to-device messages waiting already"};
  }
  d.waiting.push_back({next_seq_++, 0, std::move(message)});
  ++stats_.sent;
  schedule(device);
  return {};
}

std::deque<core::Message> C2dQueues::take_waiting(const std::string& device) {
  std::deque<core::Message> out;
  auto it = devices_.find(device);
  if (it == devices_.end()) return out;
  for (auto& p : it->second.waiting) out.push_back(std::move(p.message));
  it->second.waiting.clear();
  return out;
}

std::size_t C2dQueues::waiting(const std::string& device) const {
  auto it = devices_.find(device);
  return it == devices_.end() ? 0 : it->second.waiting.size() + it->second.unsettled.size();
}

bool C2dQueues::is_queue(const std::string& address) const {
  return !device_of(address).empty();
}

core::Status C2dQueues::attach(const std::string& queue, core::QueueConsumer* consumer) {
  std::string device = device_of(queue);
  if (device.empty()) return {core::Code::kInvalidArgument, "not a devicebound address"};
  if (consumers_.contains(consumer)) return {core::Code::kAlreadyExists, "attached already"};
  consumers_[consumer] = device;
  schedule(device);
  return {};
}

void C2dQueues::wake(core::QueueConsumer* consumer) {
  auto it = consumers_.find(consumer);
  if (it != consumers_.end()) schedule(it->second);
}

void C2dQueues::settle(core::QueueConsumer* consumer, core::Seq seq, core::Outcome outcome,
                       const std::string&) {
  auto c = consumers_.find(consumer);
  if (c == consumers_.end()) return;
  Device& d = devices_[c->second];
  auto it = d.unsettled.find(seq);
  if (it == d.unsettled.end() || d.holder[seq] != consumer) return;
  Pending p = std::move(it->second);
  d.unsettled.erase(it);
  d.holder.erase(seq);
  switch (outcome) {
    case core::Outcome::kAccepted:
      ++stats_.completed;
      break;
    case core::Outcome::kRejected:
      ++stats_.rejected;
      break;
    case core::Outcome::kModified:
      ++p.delivery_count;
      [[fallthrough]];
    case core::Outcome::kReleased:
      ++stats_.abandoned;
      d.waiting.push_front(std::move(p));
      schedule(c->second);
      break;
  }
}

void C2dQueues::detach(core::QueueConsumer* consumer) {
  auto c = consumers_.find(consumer);
  if (c == consumers_.end()) return;
  std::string device = c->second;
  consumers_.erase(c);
  Device& d = devices_[device];
  for (auto it = d.holder.begin(); it != d.holder.end();) {
    if (it->second != consumer) {
      ++it;
      continue;
    }
    Pending p = std::move(d.unsettled[it->first]);
    ++p.delivery_count;
    d.unsettled.erase(it->first);
    d.waiting.push_front(std::move(p));
    it = d.holder.erase(it);
  }
  schedule(device);
}

void C2dQueues::schedule(const std::string& device) {
  loop_.post([this, device] { pump(device); });
}

void C2dQueues::pump(const std::string& device) {
  Device& d = devices_[device];
  for (auto& [consumer, dev] : consumers_) {
    if (dev != device) continue;
    while (!d.waiting.empty() && consumer->credit() > 0) {
      Pending p = std::move(d.waiting.front());
      d.waiting.pop_front();
      core::QueueDelivery delivery{"devices/" + device + "/messages/devicebound", p.seq,
                                   p.delivery_count, p.message};
      d.holder[p.seq] = consumer;
      d.unsettled.emplace(p.seq, std::move(p));
      consumer->deliver(std::move(delivery));
    }
  }
}

}  // namespace holdfast::hubsim
