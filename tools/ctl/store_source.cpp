#include "tools/ctl/store_source.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>

#include "broker/admin/message_json.h"
#include "broker/admin/queue_ops.h"
#include "broker/core/queue_store.h"
#include "storage/rocks_queue_store.h"

namespace holdfast::ctl {
namespace {

constexpr std::size_t kMaxReadBytes = 16 << 20;  // as the admin endpoint

using broker::message_json;  // the admin endpoint's message object, shared

class StoreSource final : public Source {
 public:
  StoreSource(std::string path, std::unique_ptr<storage::RocksQueueStore> store, bool writable)
      : path_(std::move(path)), store_(std::move(store)), writable_(writable) {}

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
                  {"bytes", stats->bytes},
                  {"free_bytes", stats->free_disk_bytes}}}};
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

  Outcome<json> import(const std::string& queue, const std::string& lines) override {
    if (!writable_) return fail(kExitFailed, describe() + " is open read-only");
    auto r = broker::import_lines(*store_, queue, lines);
    if (!r) return failed("import into queue '" + queue + "'", r.error());
    return *r;
  }

  Outcome<json> deadletters() override {
    auto r = broker::dead_letters_json(*store_, core::now_ms());
    if (!r) return failed("list the dead-letter queues", r.error());
    return *r;
  }

  Outcome<json> replay(const std::string& queue, const std::string& to, std::size_t max) override {
    if (!writable_) return fail(kExitFailed, describe() + " is open read-only");
    auto r = broker::replay_dead_letters(*store_, queue, to, max);
    if (!r) {
      if (r.error().code() == core::Code::kNotFound) {
        return fail(kExitNotFound, "no queue '" + queue + "' in " + describe() +
                                       "; `holdfastctl deadletters` lists the dead-letter queues");
      }
      return failed("replay queue '" + queue + "'", r.error());
    }
    return *r;
  }

  Outcome<json> set_paused(const std::string&, bool) override { return daemon_only("bridge"); }
  Outcome<json> devices() override { return daemon_only("devices"); }

 private:
  std::unexpected<Failure> daemon_only(const std::string& command) const {
    return fail(kExitUnreachable, "holdfastd is not answering, and " + command +
                                      " needs it running (" + describe() +
                                      " does not have that): start it (tools/run.sh) or pass "
                                      "--admin URL if it listens elsewhere");
  }

  std::unexpected<Failure> failed(const std::string& what, const core::Status& s) const {
    return fail(kExitFailed, "cannot " + what + " (" + describe() + "): " + s.to_string());
  }

  std::string path_;
  std::unique_ptr<storage::RocksQueueStore> store_;
  bool writable_;
};

// The pid of the process holding RocksDB's LOCK file (a POSIX record lock) in `path`, or 0.
pid_t lock_holder(const std::string& path) {
  int fd = ::open((path + "/LOCK").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  struct flock probe = {};
  probe.l_type = F_WRLCK;
  probe.l_whence = SEEK_SET;
  pid_t holder = 0;
  if (::fcntl(fd, F_GETLK, &probe) == 0 && probe.l_type != F_UNLCK) holder = probe.l_pid;
  ::close(fd);
  return holder;
}

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
  return std::make_unique<StoreSource>(path, std::move(*store), false);
}

Outcome<std::unique_ptr<Source>> open_store_for_writing(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(std::filesystem::path(path) / "CURRENT", ec)) {
    return fail(kExitUnreachable, "there is no store at " + path);  // never create one
  }
  auto busy = [&](pid_t pid) {
    return fail(kExitBusy, "holdfastd is not answering, but process " + std::to_string(pid) +
                               " holds the store at " + path +
                               " (RocksDB's LOCK): if it is holdfastd starting or stopping, "
                               "wait and retry; if it listens elsewhere pass --admin URL; "
                               "otherwise stop that process first");
  };
  if (pid_t holder = lock_holder(path); holder != 0) return busy(holder);
  storage::StoreOptions options;
  options.path = path;
  auto store = storage::RocksQueueStore::open(options);
  if (!store) {
    if (pid_t holder = lock_holder(path); holder != 0) return busy(holder);  // lost a race
    return fail(kExitFailed,
                "cannot open the store at " + path + " for writing: " + store.error().to_string());
  }
  return std::make_unique<StoreSource>(path, std::move(*store), true);
}

}  // namespace holdfast::ctl
