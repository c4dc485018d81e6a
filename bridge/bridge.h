#pragma once
// Bridge: the thread that forwards queues upstream. One EventLoop (the bridge thread) runs a
// Forwarder per configured upstream; they read and commit through the QueueStore interface
// only, like any other consumer.
//
// Concurrency: start() and stop() on the main thread; notify() and stats() from any thread.
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "bridge/forwarder.h"
#include "broker/core/event_loop.h"
#include "broker/core/queue_store.h"

namespace holdfast::bridge {

class Bridge {
 public:
  // Starts the bridge thread with one Forwarder per entry. `store` must outlive stop().
  static core::Result<std::unique_ptr<Bridge>> start(core::QueueStore& store,
                                                     std::vector<ForwarderOptions> upstreams);
  ~Bridge();
  // Closes the upstream connections (politely, for a moment) and joins the thread. After it
  // returns no store call is made any more.
  void stop();
  // `queue` grew (the router's append listener calls this on the io thread, once per append).
  // Coalesced: one task reaches the bridge thread per burst, whatever the number of appends.
  void notify(const std::string& queue);
  // The same for several queues at once (duplicates allowed).
  void notify(const std::vector<std::string>& queues);
  // A local device subscribed to its cloud-to-device messages (any thread): every upstream
  // that can log in for it receives them, even before the device sent anything.
  void want_c2d(const std::string& device);
  // Any thread but the bridge thread; blocks until the bridge thread applied it (at most 2 s).
  // Pauses (or resumes) sending new transfers to `upstream`, or to every upstream when it is
  // empty: unsettled transfers settle normally and the queues keep filling. Not persisted: a
  // restart resumes. Returns false when no upstream has that name.
  bool set_paused(const std::string& upstream, bool paused);

  struct UpstreamStats {
    std::string name;
    const ForwarderStats* stats;
  };
  std::vector<UpstreamStats> stats() const;

 private:
  Bridge() = default;
  std::unique_ptr<core::EventLoop> loop_;
  std::vector<std::unique_ptr<Forwarder>> forwarders_;
  std::vector<std::string> names_;
  std::thread thread_;
  std::mutex notify_mu_;  // guards the two below
  std::unordered_set<std::string> notified_;
  bool notify_posted_ = false;
};

}  // namespace holdfast::bridge
