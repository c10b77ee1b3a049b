#include "musterd/adapters/asio_loop.hpp"

#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

namespace musterd {

namespace {

class AsioTimer final : public LoopTimer {
 public:
  explicit AsioTimer(asio::io_context& io) : timer_(io) {}
  ~AsioTimer() override { cancel(); }

  void arm(std::chrono::milliseconds delay, std::function<void()> fn) override {
    // A wait that expired may already be queued when it is cancelled or re-armed, and
    // may run after this timer is gone: the shared generation tells a stale call
    // from the armed one without touching the timer.
    const std::uint64_t generation = ++*generation_;
    timer_.expires_after(delay);
    timer_.async_wait([current = generation_, generation, fn = std::move(fn)](const std::error_code& ec) {
      if (!ec && generation == *current) fn();
    });
  }
  void cancel() override {
    ++*generation_;
    timer_.cancel();
  }

 private:
  asio::steady_timer timer_;
  std::shared_ptr<std::uint64_t> generation_ = std::make_shared<std::uint64_t>(0);
};

}  // namespace

AsioLoop::~AsioLoop() { join(); }

void AsioLoop::post(std::function<void()> fn) { asio::post(io_, std::move(fn)); }

void AsioLoop::offload(std::function<void()> work, std::function<void()> done) {
  asio::post(workers_, [this, work = std::move(work), done = std::move(done)]() mutable {
    work();
    asio::post(io_, std::move(done));
  });
}

std::unique_ptr<LoopTimer> AsioLoop::make_timer() { return std::make_unique<AsioTimer>(io_); }

void AsioLoop::join() { workers_.join(); }

}  // namespace musterd
