// The core's Loop (core/loop.hpp) on a standalone Asio io_context, with a few worker
// threads for offloaded work (argon2id password checks; `musterd serve --login-workers`,
// default 2: each check holds 64 MiB while it runs).
//
// Thread: the io_context's thread for everything but offload()'s `work`.
#pragma once

#include <asio/io_context.hpp>
#include <asio/thread_pool.hpp>

#include "musterd/core/loop.hpp"

namespace musterd {

class AsioLoop final : public Loop {
 public:
  explicit AsioLoop(asio::io_context& io, int workers = 2)
      : io_(io), workers_(static_cast<std::size_t>(workers < 1 ? 1 : workers)) {}
  ~AsioLoop() override;  // joins the worker

  void post(std::function<void()> fn) override;
  void offload(std::function<void()> work, std::function<void()> done) override;
  std::unique_ptr<LoopTimer> make_timer() override;
  // Waits for offloaded work to end (call after io_context::run returns).
  void join();

 private:
  asio::io_context& io_;
  asio::thread_pool workers_;
};

}  // namespace musterd
