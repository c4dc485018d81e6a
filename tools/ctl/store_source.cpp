#include "tools/ctl/store_source.h"

#include "broker/admin/message_json.h"
#include "broker/core/queue_store.h"
#include "storage/rocks_queue_store.h"

namespace holdfast::ctl {
namespace {

constexpr std::size_t kMaxReadBytes = 16 << 20;  // as the admin endpoint

using broker::message_json;  // the admin endpoint's message object, shared

class StoreSource final : public Source {
 public:
  StoreSource(std::string path, std::unique_ptr<storage::RocksQueueStore> store)
      : path_(std::move(path)), store_(std::move(store)) {}

  bool is_daemon() const override { return false; }
  std::string describe() const override { return "the store at " + path_; }

  Outcome<json> status() override {
    auto stats =
        core::call_sync<core::StoreStats>([&](auto done) { store_->store_stats(std::move(done)); });
    if (!stats) return failed("read the store's totals", stats.error());
    return json{{"store",
                 {{"path", path_},
                  {"queues", stats->queues},
                  {"messages", stats->messages},
                  {"bytes", stats->bytes}}}};
  }

  Outcome<json> queues() override {
    auto queues = core::call_sync<std::vector<core::QueueStats>>(
        [&](auto done) { store_->list_queues(std::move(done)); });
    if (!queues) return failed("list the queues", queues.error());
    std::int64_t now = core::now_ms();
    json out = json::array();
    for (const auto& q : *queues) out.push_back(broker::queue_json(q, now));
    return out;
  }

  Outcome<json> read(const std::string& queue, std::uint64_t from, std::size_t max) override {
    core::ReadRequest request;
    request.from = from;
    request.max_messages = max;
    request.max_bytes = kMaxReadBytes;
    auto read = core::call_sync<core::ReadResult>(
        [&](auto done) { store_->read(queue, request, std::move(done)); });
    if (!read) {
      if (read.error().code() == core::Code::kNotFound) {
        return fail(kExitNotFound, "no queue '" + queue + "' in " + describe() +
                                       "; `holdfastctl queues --all` lists every queue");
      }
      return failed("read queue '" + queue + "'", read.error());
    }
    json messages = json::array();
    for (const auto& m : read->messages) messages.push_back(message_json(m));
    return json{{"queue", queue}, {"next", read->next}, {"messages", std::move(messages)}};
  }

  Outcome<json> purge(const std::string&) override {
    return fail(kExitFailed, "holdfastctl opens " + describe() +
                                 " read-only; purging needs the running holdfastd");
  }

 private:
  std::unexpected<Failure> failed(const std::string& what, const core::Status& s) const {
    return fail(kExitFailed, "cannot " + what + " (" + describe() + "): " + s.to_string());
  }

  std::string path_;
  std::unique_ptr<storage::RocksQueueStore> store_;
};

}  // namespace

Outcome<std::unique_ptr<Source>> open_store(const std::string& path) {
  auto store = storage::RocksQueueStore::open_read_only(path);
  if (!store) {
    if (store.error().code() == core::Code::kNotFound) {
      return fail(kExitUnreachable, "there is no store at " + path);
    }
    return fail(kExitFailed,
                "cannot open the store at " + path + " read-only: " + store.error().to_string());
  }
  return std::make_unique<StoreSource>(path, std::move(*store));
}

}  // namespace holdfast::ctl
