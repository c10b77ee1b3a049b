#include "musterd/adapters/plugin_supervisor.hpp"

#include <uv.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <deque>
#include <mutex>
#include <thread>

namespace musterd {

namespace {

constexpr std::uint64_t kLingerMs = 500;  // after an exit, how long its pipes may still deliver
constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::size_t kMaxStderrLine = 4096;

template <class T>
uv_handle_t* as_handle(T* h) {
  return reinterpret_cast<uv_handle_t*>(h);
}
template <class T>
uv_stream_t* as_stream(T* h) {
  return reinterpret_cast<uv_stream_t*>(h);
}

}  // namespace

class PluginSupervisor::Impl {
 public:
  Impl(std::string self, std::vector<PluginProgram> programs, PluginLimits limits, Events events)
      : self_(std::move(self)), limits_(limits), events_(std::move(events)) {
    uv_loop_init(&loop_);
    uv_async_init(&loop_, &wake_, [](uv_async_t* a) { static_cast<Impl*>(a->data)->on_wake(); });
    wake_.data = this;
    for (std::size_t i = 0; i < programs.size(); ++i) {
      auto c = std::make_unique<Child>();
      c->owner = this;
      c->index = i;
      c->program = std::move(programs[i]);
      c->backoff = limits_.min_backoff;
      for (uv_timer_t* t : {&c->restart_timer, &c->throttle_timer, &c->linger_timer}) {
        uv_timer_init(&loop_, t);
        t->data = c.get();
      }
      children_.push_back(std::move(c));
    }
  }

  ~Impl() { stop(); }

  void start() {
    std::signal(SIGPIPE, SIG_IGN);
    std::lock_guard<std::mutex> lock(mutex_);
    if (started_ || closed_) return;
    started_ = true;
    thread_ = std::thread([this] {
      for (auto& c : children_) spawn(*c);
      uv_run(&loop_, UV_RUN_DEFAULT);
    });
  }

  void write(std::size_t plugin, std::uint64_t generation, std::string data) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (closed_ || !started_) return;
      commands_.push_back(Command{Command::Kind::write, plugin, generation, std::move(data)});
    }
    uv_async_send(&wake_);
  }

  void stop() {
    bool join = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (closed_) return;
      closed_ = true;
      join = started_;
      if (join) commands_.push_back(Command{Command::Kind::stop, 0, 0, {}});
    }
    if (join) {
      uv_async_send(&wake_);
      thread_.join();
    } else {
      shut_down();  // never started: close the handles here
      uv_run(&loop_, UV_RUN_DEFAULT);
    }
    uv_loop_close(&loop_);
  }

 private:
  struct Child;

  struct WriteReq {
    uv_write_t req;
    std::string data;
    Child* child;
    std::uint64_t generation;
  };

  struct Child {
    Impl* owner = nullptr;
    std::size_t index = 0;
    PluginProgram program;
    std::uint64_t generation = 0;

    // The handles of the current run, closed when it ends.
    uv_process_t process{};
    uv_pipe_t in{}, out{}, err{};
    int open_handles = 0;
    bool run_active = false;  // handles are open
    bool ending = false;      // being closed
    bool alive = false;       // the process has not exited
    bool out_eof = false, err_eof = false;
    bool out_reading = false, err_reading = false;
    bool paused_throttle = false, paused_backlog = false;
    std::string out_pending, err_pending;  // read, not yet handed over
    bool out_skipping = false;             // dropping the rest of an over-long line
    std::uint64_t throttled_at = 0;
    std::int64_t exit_status = -1;
    int term_signal = 0;
    std::uint64_t started_at = 0;

    double tokens = 0;
    std::uint64_t refilled_at = 0;
    std::chrono::milliseconds backoff{0};

    uv_timer_t restart_timer{}, throttle_timer{}, linger_timer{};
  };

  struct Command {
    enum class Kind { write, stop } kind;
    std::size_t plugin;
    std::uint64_t generation;
    std::string data;
  };

  // ------------------------------------------------------------ the loop thread

  void on_wake() {
    std::deque<Command> commands;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      commands.swap(commands_);
    }
    for (auto& cmd : commands) {
      if (cmd.kind == Command::Kind::stop) {
        shut_down();
        return;
      }
      if (stopping_ || cmd.plugin >= children_.size()) continue;
      write_now(*children_[cmd.plugin], cmd.generation, std::move(cmd.data));
    }
  }

  void shut_down() {
    if (stopping_) return;
    stopping_ = true;
    for (auto& c : children_) {
      uv_timer_stop(&c->restart_timer);
      if (c->run_active) end_run(*c);
      for (uv_timer_t* t : {&c->restart_timer, &c->throttle_timer, &c->linger_timer}) uv_close(as_handle(t), nullptr);
    }
    uv_close(as_handle(&wake_), nullptr);
  }

  void spawn(Child& c) {
    if (stopping_) return;
    ++c.generation;
    c.run_active = true;
    c.ending = false;
    c.alive = false;
    c.out_eof = c.err_eof = false;
    c.out_reading = c.err_reading = false;
    c.paused_throttle = c.paused_backlog = false;
    c.out_pending.clear();
    c.err_pending.clear();
    c.out_skipping = false;
    c.exit_status = -1;
    c.term_signal = 0;
    c.started_at = uv_now(&loop_);
    c.tokens = limits_.burst_lines;
    c.refilled_at = c.started_at;

    for (uv_pipe_t* p : {&c.in, &c.out, &c.err}) {
      uv_pipe_init(&loop_, p, 0);
      p->data = &c;
    }
    uv_stdio_container_t stdio[3];
    stdio[0].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_READABLE_PIPE);
    stdio[0].data.stream = as_stream(&c.in);
    stdio[1].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
    stdio[1].data.stream = as_stream(&c.out);
    stdio[2].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
    stdio[2].data.stream = as_stream(&c.err);

    std::vector<std::string> argv_text{self_, "plugin-exec", c.program.path};
    std::vector<char*> argv;
    for (auto& a : argv_text) argv.push_back(a.data());
    argv.push_back(nullptr);

    uv_process_options_t options{};
    options.exit_cb = [](uv_process_t* p, std::int64_t status, int signal) {
      auto* child = static_cast<Child*>(p->data);
      child->owner->on_exit(*child, status, signal);
    };
    options.file = argv_text[0].c_str();
    options.args = argv.data();
    options.cwd = c.program.cwd.empty() ? nullptr : c.program.cwd.c_str();
    options.flags = UV_PROCESS_DETACHED;
    options.stdio_count = 3;
    options.stdio = stdio;
    c.process.data = &c;
    c.open_handles = 4;  // the process handle is initialised even when uv_spawn fails
    const int rc = uv_spawn(&loop_, &c.process, &options);
    if (rc != 0) {
      events_.notice(c.index, c.generation, Notice::spawn_failed, uv_strerror(rc));
      end_run(c);
      return;
    }
    c.alive = true;
    events_.started(c.index, c.generation, c.process.pid);
    update_reading(c);
  }

  void on_exit(Child& c, std::int64_t status, int signal) {
    c.alive = false;
    c.exit_status = status;
    c.term_signal = signal;
    if (c.out_eof && c.err_eof) {
      end_run(c);
      return;
    }
    // Let the pipes deliver what the plugin wrote last, unless a grandchild keeps them open.
    uv_timer_start(
        &c.linger_timer, [](uv_timer_t* t) { static_cast<Child*>(t->data)->owner->end_run(*static_cast<Child*>(t->data)); },
        kLingerMs, 0);
  }

  void end_run(Child& c) {
    if (!c.run_active || c.ending) return;
    c.ending = true;
    uv_timer_stop(&c.linger_timer);
    uv_timer_stop(&c.throttle_timer);
    auto closed = [](uv_handle_t* h) {
      auto* child = static_cast<Child*>(h->data);
      if (--child->open_handles == 0) child->owner->run_closed(*child);
    };
    // Closing stdin cancels its pending writes (their callbacks report them written).
    uv_close(as_handle(&c.in), closed);
    uv_close(as_handle(&c.out), closed);
    uv_close(as_handle(&c.err), closed);
    uv_close(as_handle(&c.process), closed);  // does not kill a live process
  }

  void run_closed(Child& c) {
    c.run_active = false;
    c.ending = false;
    if (stopping_) return;
    const std::uint64_t ran = uv_now(&loop_) - c.started_at;
    if (ran >= static_cast<std::uint64_t>(limits_.healthy_after.count())) c.backoff = limits_.min_backoff;
    const auto delay = c.backoff;
    c.backoff = std::min(c.backoff * 2, limits_.max_backoff);
    events_.exited(c.index, c.generation, c.exit_status, c.term_signal, delay);
    uv_timer_start(
        &c.restart_timer,
        [](uv_timer_t* t) {
          auto* child = static_cast<Child*>(t->data);
          child->owner->spawn(*child);
        },
        static_cast<std::uint64_t>(delay.count()), 0);
  }

  // ------------------------------------------------------------ reading

  void update_reading(Child& c) {
    if (!c.run_active || c.ending) return;
    const bool want_out = !c.out_eof && !c.paused_throttle && !c.paused_backlog;
    const bool want_err = !c.err_eof && !c.paused_throttle;
    auto alloc = [](uv_handle_t* h, std::size_t, uv_buf_t* buf) {
      auto* child = static_cast<Child*>(h->data);
      Impl* self = child->owner;
      buf->base = self->read_buffer_;
      buf->len = sizeof self->read_buffer_;
    };
    if (want_out && !c.out_reading) {
      c.out_reading = uv_read_start(as_stream(&c.out), alloc, [](uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
                        auto* child = static_cast<Child*>(s->data);
                        child->owner->on_read(*child, true, n, buf);
                      }) == 0;
    } else if (!want_out && c.out_reading) {
      uv_read_stop(as_stream(&c.out));
      c.out_reading = false;
    }
    if (want_err && !c.err_reading) {
      c.err_reading = uv_read_start(as_stream(&c.err), alloc, [](uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
                        auto* child = static_cast<Child*>(s->data);
                        child->owner->on_read(*child, false, n, buf);
                      }) == 0;
    } else if (!want_err && c.err_reading) {
      uv_read_stop(as_stream(&c.err));
      c.err_reading = false;
    }
  }

  void on_read(Child& c, bool is_out, ssize_t n, const uv_buf_t* buf) {
    if (n == 0) return;  // EAGAIN
    if (n < 0) {         // EOF or an error: this stream is done
      (is_out ? c.out_eof : c.err_eof) = true;
      uv_read_stop(as_stream(is_out ? &c.out : &c.err));
      (is_out ? c.out_reading : c.err_reading) = false;
      if (!c.alive && c.out_eof && c.err_eof) end_run(c);
      return;
    }
    (is_out ? c.out_pending : c.err_pending).append(buf->base, static_cast<std::size_t>(n));
    drain(c);
  }

  // Hands over the complete lines read so far while the bucket has tokens; when it
  // runs dry, reading pauses (the rest waits here, at most one read's worth) until it
  // has refilled a quarter of a second's worth.
  void drain(Child& c) {
    refill(c);
    split(c, true);
    split(c, false);
    const bool dry = c.tokens < 1 && (c.out_pending.find('\n') != std::string::npos ||
                                       c.err_pending.find('\n') != std::string::npos);
    if (dry && !c.paused_throttle) {
      c.paused_throttle = true;
      const double target = std::max(1.0, std::min(limits_.burst_lines, limits_.lines_per_second / 4));
      const auto wait_ms = static_cast<std::uint64_t>(std::ceil((target - c.tokens) * 1000.0 / limits_.lines_per_second));
      const std::uint64_t now = uv_now(&loop_);
      if (now - c.throttled_at > 5000 || c.throttled_at == 0) {
        events_.notice(c.index, c.generation, Notice::throttled,
                       "more than " + std::to_string(static_cast<long>(limits_.lines_per_second)) +
                           " lines/s: reading paused");
      }
      c.throttled_at = now;
      uv_timer_start(
          &c.throttle_timer,
          [](uv_timer_t* t) {
            auto* child = static_cast<Child*>(t->data);
            child->paused_throttle = false;
            child->owner->drain(*child);
          },
          wait_ms, 0);
    }
    update_reading(c);
  }

  void refill(Child& c) {
    const std::uint64_t now = uv_now(&loop_);
    c.tokens = std::min(limits_.burst_lines,
                        c.tokens + static_cast<double>(now - c.refilled_at) * limits_.lines_per_second / 1000.0);
    c.refilled_at = now;
  }

  // Lines of stdout go to the host (an over-long one is dropped and reported); lines
  // of stderr go to the log, cut at kMaxStderrLine.
  void split(Child& c, bool is_out) {
    std::string& pending = is_out ? c.out_pending : c.err_pending;
    std::size_t pos = 0;
    while (c.tokens >= 1) {
      const auto nl = pending.find('\n', pos);
      if (nl == std::string::npos) break;
      std::string_view line(pending.data() + pos, nl - pos);
      pos = nl + 1;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (is_out) {
        const bool whole = !c.out_skipping;
        c.out_skipping = false;
        c.tokens -= 1;
        if (!whole || line.empty()) continue;
        if (line.size() > limits_.max_line_bytes) {
          report_too_long(c);
        } else {
          events_.line(c.index, c.generation, std::string(line));
        }
      } else {
        c.tokens -= 1;
        events_.notice(c.index, c.generation, Notice::stderr_line, std::string(line.substr(0, kMaxStderrLine)));
      }
    }
    pending.erase(0, pos);
    // A partial line already too long is dropped now, the rest of it as it comes.
    if (is_out && pending.find('\n') == std::string::npos && pending.size() > limits_.max_line_bytes) {
      if (!c.out_skipping) report_too_long(c);
      c.out_skipping = true;
      pending.clear();
    }
    if (!is_out && pending.find('\n') == std::string::npos && pending.size() > kMaxStderrLine) {
      pending.resize(kMaxStderrLine);  // the rest of the line is lost; the next one starts clean
    }
  }

  void report_too_long(Child& c) {
    events_.notice(c.index, c.generation, Notice::line_too_long,
                   "a line longer than " + std::to_string(limits_.max_line_bytes) + " bytes was skipped");
  }

  // ------------------------------------------------------------ writing

  void write_now(Child& c, std::uint64_t generation, std::string data) {
    const std::size_t size = data.size();
    if (c.generation != generation || !c.run_active || c.ending || !c.alive) {
      events_.written(c.index, generation, size);
      return;
    }
    auto* req = new WriteReq{{}, std::move(data), &c, generation};
    req->req.data = req;
    uv_buf_t buf = uv_buf_init(req->data.data(), static_cast<unsigned int>(req->data.size()));
    const int rc = uv_write(&req->req, as_stream(&c.in), &buf, 1, [](uv_write_t* w, int) {
      auto* r = static_cast<WriteReq*>(w->data);
      Child& child = *r->child;
      child.owner->events_.written(child.index, r->generation, r->data.size());
      const std::uint64_t gen = r->generation;
      delete r;
      if (gen == child.generation && child.run_active && !child.ending && child.paused_backlog &&
          uv_stream_get_write_queue_size(as_stream(&child.in)) <= child.owner->limits_.max_stdin_backlog / 2) {
        child.paused_backlog = false;
        child.owner->update_reading(child);
      }
    });
    if (rc != 0) {
      events_.written(c.index, generation, size);
      delete req;
      return;
    }
    if (!c.paused_backlog && uv_stream_get_write_queue_size(as_stream(&c.in)) > limits_.max_stdin_backlog) {
      c.paused_backlog = true;
      update_reading(c);
    }
  }

  std::string self_;
  PluginLimits limits_;
  Events events_;
  uv_loop_t loop_{};
  uv_async_t wake_{};
  std::vector<std::unique_ptr<Child>> children_;
  char read_buffer_[kReadChunk];  // one read at a time on this loop: one buffer serves all

  std::mutex mutex_;
  std::deque<Command> commands_;
  bool started_ = false;
  bool closed_ = false;
  bool stopping_ = false;  // the loop thread's view
  std::thread thread_;
};

PluginSupervisor::PluginSupervisor(std::string self, std::vector<PluginProgram> programs, PluginLimits limits,
                                   Events events)
    : impl_(std::make_unique<Impl>(std::move(self), std::move(programs), limits, std::move(events))) {}

PluginSupervisor::~PluginSupervisor() = default;

void PluginSupervisor::start() { impl_->start(); }
void PluginSupervisor::write(std::size_t plugin, std::uint64_t generation, std::string data) {
  impl_->write(plugin, generation, std::move(data));
}
void PluginSupervisor::stop() { impl_->stop(); }

}  // namespace musterd
