#include "bridge/bridge.h"

#include <algorithm>
#include <future>

namespace holdfast::bridge {

core::Result<std::unique_ptr<Bridge>> Bridge::start(core::QueueStore& store,
                                                    std::vector<ForwarderOptions> upstreams) {
  std::unique_ptr<Bridge> b(new Bridge());
  b->loop_ = std::make_unique<core::EventLoop>();
  if (!b->loop_->status().ok()) return core::error(b->loop_->status());
  for (auto& o : upstreams) {
    b->names_.push_back(o.upstream);
    b->forwarders_.push_back(std::make_unique<Forwarder>(*b->loop_, store, std::move(o)));
  }
  Bridge* raw = b.get();
  b->loop_->post([raw] {
    for (auto& f : raw->forwarders_) f->start();  // DNS and connect happen here, not on main
  });
  b->thread_ = std::thread([raw] { raw->loop_->run(); });
  return b;
}

Bridge::~Bridge() {
  stop();
}

void Bridge::stop() {
  if (!thread_.joinable()) return;
  std::promise<void> stopped;
  loop_->post([this, &stopped] {
    for (auto& f : forwarders_) f->stop();
    // One more turn lets the close frames go out; then no further store calls are made.
    loop_->post([this, &stopped] {
      forwarders_.clear();
      loop_->stop();
      stopped.set_value();
    });
  });
  stopped.get_future().wait();
  thread_.join();
}

void Bridge::notify(const std::string& queue) {
  notify(std::vector<std::string>{queue});
}

void Bridge::notify(const std::vector<std::string>& queues) {
  {
    std::lock_guard lock(notify_mu_);
    for (const auto& q : queues) notified_.insert(q);
    if (queues.empty() || notify_posted_) return;
    notify_posted_ = true;
  }
  loop_->post([this] {
    std::unordered_set<std::string> queues;
    {
      std::lock_guard lock(notify_mu_);
      queues.swap(notified_);
      notify_posted_ = false;
    }
    for (auto& f : forwarders_) {
      for (const auto& q : queues) f->notified(q);
    }
  });
}

void Bridge::want_c2d(const std::string& device) {
  loop_->post([this, device] {
    for (auto& f : forwarders_) f->want_c2d(device);
  });
}

bool Bridge::set_paused(const std::string& upstream, bool paused) {
  if (!upstream.empty() && std::find(names_.begin(), names_.end(), upstream) == names_.end()) {
    return false;
  }
  auto applied = std::make_shared<std::promise<void>>();
  loop_->post([this, upstream, paused, applied] {
    for (std::size_t i = 0; i < forwarders_.size(); ++i) {
      if (upstream.empty() || names_[i] == upstream) forwarders_[i]->set_paused(paused);
    }
    applied->set_value();
  });
  applied->get_future().wait_for(std::chrono::seconds(2));
  return true;
}

std::vector<Bridge::UpstreamStats> Bridge::stats() const {
  std::vector<UpstreamStats> out;
  for (std::size_t i = 0; i < forwarders_.size(); ++i) {
    out.push_back({names_[i], &forwarders_[i]->stats()});
  }
  return out;
}

}  // namespace holdfast::bridge
