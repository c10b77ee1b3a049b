// muster-bench: sub-command dispatch, shared helpers, the machine probe, the SQLite
// peers and the report. WebSocket++ lives in ws_clients.cpp and echo_server.cpp only.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>

#include "bench.hpp"
#include "muster/base/csv.hpp"
#include "muster/base/time.hpp"
#include "muster/base/ulid.hpp"
#include "muster/domain/event.hpp"
#include "muster/protocol/frame.hpp"
#include "muster/store/sqlite.hpp"

namespace bench {

namespace fs = std::filesystem;

// ---------------------------------------------------------------- helpers

std::vector<BenchUser> read_users(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + file);
  std::ostringstream text;
  text << in.rdbuf();
  const std::string csv = text.str();
  muster::CsvOptions options;
  options.comment = '#';
  muster::CsvReader reader(csv, options);  // the file of `musterd user import`
  std::vector<BenchUser> out;
  while (auto record = reader.next()) {
    const auto& cols = record->fields;
    if (cols.size() < 4) {
      throw std::runtime_error(file + ":" + std::to_string(record->line) +
                               ": expected name,roles,area,password[,token[,display]]");
    }
    out.push_back(BenchUser{cols[0], cols[1], cols[2], cols[3], cols.size() > 4 ? cols[4] : std::string()});
  }
  if (const auto& p = reader.problem()) throw std::runtime_error(file + ":" + std::to_string(p->line) + ": " + p->message);
  return out;
}

std::vector<BenchUser> select_users(const std::vector<BenchUser>& all, const std::string& prefix, std::size_t limit) {
  std::vector<BenchUser> out;
  for (const auto& u : all) {
    if (out.size() >= limit) break;
    if (u.name.rfind(prefix, 0) == 0) out.push_back(u);
  }
  return out;
}

const BenchUser& find_user(const std::vector<BenchUser>& all, const std::string& name) {
  for (const auto& u : all) {
    if (u.name == name) return u;
  }
  throw std::runtime_error("no user " + name + " in the users file");
}

double median(std::vector<double> v) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
  rank = std::clamp<std::size_t>(rank, 1, v.size());
  return v[rank - 1];
}

Json summarize(const std::vector<double>& samples) {
  Json j{{"samples", samples}};
  if (!samples.empty()) {
    j["median"] = median(samples);
    j["min"] = *std::min_element(samples.begin(), samples.end());
    j["max"] = *std::max_element(samples.begin(), samples.end());
  }
  return j;
}

double seconds_since(SteadyClock::time_point t) { return std::chrono::duration<double>(SteadyClock::now() - t).count(); }

SteadyClock::time_point after(double seconds) {
  return SteadyClock::now() +
         std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(seconds));
}

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

namespace {
bool ends_with(const std::string& s, std::string_view tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}
}  // namespace

std::string frame_type(const std::string& payload) {
  if (ends_with(payload, R"("t":"event"})")) return "event";
  if (ends_with(payload, R"("t":"ack"})")) return "ack";
  if (ends_with(payload, R"("t":"caught_up"})")) return "caught_up";
  auto j = Json::parse(payload, nullptr, false);
  if (!j.is_object()) return "";
  auto it = j.find("t");
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

void emit(const Json& result) {
  std::cout << result.dump() << std::endl;
}

// ---------------------------------------------------------------- machine probe

// fsyncs per second of the disk holding DIR: a 4 KiB block rewritten and fsynced.
int cmd_fsync_probe(const muster::Args& a) {
  const std::string dir = a.get_or("dir", ".");
  const double seconds = std::stod(a.get_or("seconds", "1"));
  const std::string path = (fs::path(dir) / ".fsync-probe").string();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    std::cerr << "fsync-probe: cannot create " << path << '\n';
    return 1;
  }
  char block[4096];
  std::fill(std::begin(block), std::end(block), 'x');
  long n = 0;
  const auto start = SteadyClock::now();
  const auto end = after(seconds);
  bool ok = true;
  while (SteadyClock::now() < end && n < 10000000) {
    block[n % 4096] = static_cast<char>('a' + n % 26);
    if (::pwrite(fd, block, sizeof block, 0) != static_cast<ssize_t>(sizeof block) || ::fsync(fd) != 0) {
      ok = false;
      break;
    }
    ++n;
  }
  const double elapsed = seconds_since(start);
  ::close(fd);
  ::unlink(path.c_str());
  if (!ok) {
    std::cerr << "fsync-probe: write or fsync failed\n";
    return 1;
  }
  emit(Json{{"fsync_per_s", static_cast<double>(n) / elapsed}, {"fsyncs", n}, {"seconds", elapsed}});
  return 0;
}

// A TCP port that was free on 127.0.0.1 a moment ago.
int cmd_free_port(const muster::Args&) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::cerr << "free-port: no port\n";
    return 1;
  }
  ::close(fd);
  std::cout << ntohs(addr.sin_port) << '\n';
  return 0;
}

// ---------------------------------------------------------------- users file

// Writes `musterd user import` lines: PREFIX00001… with a device token each.
int cmd_users(const muster::Args& a) {
  auto out = a.get("out");
  if (!out) return 1;
  const std::string prefix = a.get_or("prefix", "u");
  const int count = std::stoi(a.get_or("count", "1"));
  const std::string roles = a.get_or("roles", "volunteer");
  const std::string area = a.get_or("area", "bench");
  const std::string password = a.get_or("password", "bench-password");
  std::ofstream f(*out, std::ios::app);
  if (!f) return 1;
  for (int i = 1; i <= count; ++i) {
    std::ostringstream name;
    name << prefix;
    if (count > 1 || a.flag("numbered")) name << std::setw(5) << std::setfill('0') << i;
    f << name.str() << ',' << roles << ',' << area << ',' << password << ",benchtoken-" << name.str()
      << "-0123456789abcdef\n";
  }
  if (!f) return 1;
  emit(Json{{"users", count}, {"out", *out}});
  return 0;
}

// ---------------------------------------------------------------- SQLite peers

namespace {

// The same tables as server/musterd/log_store.cpp's events and ops.
constexpr const char* kLogSchema = R"sql(
  CREATE TABLE IF NOT EXISTS events(
    gseq INTEGER PRIMARY KEY,
    scope TEXT NOT NULL,
    seq INTEGER NOT NULL,
    op TEXT NOT NULL,
    kind TEXT NOT NULL,
    frame TEXT NOT NULL,
    UNIQUE(scope, seq)
  );
  CREATE TABLE IF NOT EXISTS ops(
    id TEXT PRIMARY KEY,
    actor TEXT NOT NULL,
    device TEXT NOT NULL,
    kind TEXT NOT NULL,
    ok INTEGER NOT NULL,
    ack TEXT NOT NULL,
    at TEXT NOT NULL
  ) WITHOUT ROWID;
)sql";

// The same tables as shared/muster/sync/client_store.cpp's replica.
constexpr const char* kReplicaSchema = R"sql(
  CREATE TABLE IF NOT EXISTS objects(
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    json TEXT NOT NULL,
    PRIMARY KEY(type, id)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS cursors(scope TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
)sql";

void remove_db(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) fs::remove(path + suffix);
}

}  // namespace

// Peer of the ingest figure: a plain loop inserting one event row and one op row per
// op (the rows musterd writes for a message to oneself, same payload), BATCH ops per
// transaction, WAL, synchronous=FULL, through the same SQLite layer.
int cmd_sqlite_ingest(const muster::Args& a) {
  const std::string dir = a.get_or("dir", ".");
  const double batch_f = std::stod(a.get_or("batch", "64"));
  const int batch = std::max(1, static_cast<int>(std::lround(batch_f)));
  const double warmup = std::stod(a.get_or("warmup", "1"));
  const double duration = std::stod(a.get_or("duration", "2"));
  const int reps = std::stoi(a.get_or("reps", "5"));
  const int scopes = std::stoi(a.get_or("scopes", "50"));
  const std::string path = (fs::path(dir) / "peer-ingest.db").string();
  remove_db(path);
  muster::store::OpenOptions options;
  options.durability = muster::store::Durability::full;
  auto db = muster::store::Db::open(path, options);
  db.exec(kLogSchema);
  auto insert_event = db.prepare("INSERT INTO events(gseq, scope, seq, op, kind, frame) VALUES (?1,?2,?3,?4,?5,?6)");
  auto insert_op = db.prepare("INSERT INTO ops(id, actor, device, kind, ok, ack, at) VALUES (?1,?2,?3,?4,?5,?6,?7)");

  muster::UlidGenerator ids;
  std::vector<std::string> users;
  for (int i = 0; i < scopes; ++i) users.push_back("ing" + std::to_string(100001 + i).substr(1));
  std::vector<std::int64_t> seqs(static_cast<std::size_t>(scopes), 0);
  std::int64_t gseq = 0;
  long long done = 0;
  auto one_batch = [&]() {
    muster::store::Transaction tx(db);
    const std::string at = muster::format_utc(unix_ms());
    for (int k = 0; k < batch; ++k) {
      const auto u = static_cast<std::size_t>(done % scopes);
      const std::string op = ids.next(unix_ms());
      muster::domain::Event e;
      e.scope = "user:" + users[u];
      e.seq = ++seqs[u];
      e.gseq = ++gseq;
      e.id = ids.next(unix_ms());
      e.op = muster::domain::OpId(op);
      e.kind = "message.sent";
      e.actor = users[u];
      e.at = at;
      e.body = Json{{"id", op}, {"from", users[u]}, {"to", users[u]}, {"text", kMessageText}, {"sent_at", at}};
      const std::string frame = muster::protocol::encode_event(e);
      insert_event.bind(1, e.gseq).bind(2, e.scope).bind(3, e.seq).bind(4, e.op.str()).bind(5, e.kind).bind(6, frame).run();
      const std::string ack = muster::protocol::encode(muster::protocol::ServerFrame{muster::protocol::Ack{muster::domain::OpId(op), true, {}, nullptr}});
      insert_op.bind(1, op).bind(2, users[u]).bind(3, "bench").bind(4, "message.send").bind(5, 1).bind(6, ack).bind(7, at).run();
      ++done;
    }
    tx.commit();
  };
  const auto warm_end = after(warmup);
  while (SteadyClock::now() < warm_end) one_batch();
  std::vector<double> samples;
  for (int r = 0; r < reps; ++r) {
    const long long before = done;
    const auto start = SteadyClock::now();
    const auto end = after(duration);
    while (SteadyClock::now() < end) one_batch();
    samples.push_back(static_cast<double>(done - before) / seconds_since(start));
    std::cerr << "sqlite-ingest rep " << r + 1 << ": " << static_cast<long long>(samples.back()) << " ops/s\n";
  }
  Json out = summarize(samples);
  out["unit"] = "ops/s";
  out["batch"] = batch;
  emit(out);
  return 0;
}

// Peer of the catch-up figure: read the rows a catching-up client is sent (the same
// query as musterd's replay) from a copy of the server's log and write them into
// replica tables (objects + cursors, as client.db), committing every 2000 events
// with synchronous=FULL like muster's SyncSession.
int cmd_sqlite_catchup(const muster::Args& a) {
  auto src = a.get("src");
  if (!src) {
    std::cerr << "sqlite-catchup needs --src log.db\n";
    return 1;
  }
  const std::string dir = a.get_or("dir", ".");
  std::vector<std::string> scopes;
  {
    std::stringstream in(a.get_or("scopes", ""));
    for (std::string s; std::getline(in, s, ',');) {
      if (!s.empty()) scopes.push_back(s);
    }
  }
  const int reps = std::stoi(a.get_or("reps", "5"));
  const int warmup = std::stoi(a.get_or("warmup-reps", "1"));
  muster::store::OpenOptions ro;
  ro.create = false;
  ro.read_only = true;
  auto source = muster::store::Db::open(*src, ro);
  std::vector<double> samples;
  long long events_per_rep = 0;
  for (int r = 0; r < warmup + reps; ++r) {
    const std::string path = (fs::path(dir) / "peer-replica.db").string();
    remove_db(path);
    muster::store::OpenOptions options;
    options.durability = muster::store::Durability::full;
    auto db = muster::store::Db::open(path, options);
    db.exec(kReplicaSchema);
    auto read = source.prepare("SELECT seq, op, frame FROM events WHERE scope = ?1 AND seq > ?2 ORDER BY seq LIMIT 512");
    auto put = db.prepare("INSERT OR REPLACE INTO objects(type, id, json) VALUES ('message', ?1, ?2)");
    auto cursor = db.prepare("INSERT OR REPLACE INTO cursors(scope, seq) VALUES (?1, ?2)");
    long long n = 0;
    const auto start = SteadyClock::now();
    std::unique_ptr<muster::store::Transaction> tx;
    for (const auto& scope : scopes) {
      std::int64_t after_seq = 0;
      for (int chunk = 0; chunk < 100000; ++chunk) {
        read.bind(1, scope).bind(2, after_seq);
        int rows = 0;
        while (read.step()) {
          if (!tx) tx = std::make_unique<muster::store::Transaction>(db);
          after_seq = read.int64(0);
          put.bind(1, read.text_view(1)).bind(2, read.text_view(2)).run();
          cursor.bind(1, scope).bind(2, after_seq).run();
          ++rows;
          if (++n % 2000 == 0) {
            tx->commit();
            tx.reset();
          }
        }
        if (rows == 0) break;
      }
    }
    if (tx) tx->commit();
    const double t = seconds_since(start);
    events_per_rep = n;
    if (r >= warmup) {
      samples.push_back(static_cast<double>(n) / t);
      std::cerr << "sqlite-catchup rep " << r - warmup + 1 << ": " << n << " events, "
                << static_cast<long long>(samples.back()) << " events/s\n";
    }
  }
  Json out = summarize(samples);
  out["unit"] = "events/s";
  out["events"] = events_per_rep;
  emit(out);
  return events_per_rep > 0 ? 0 : 1;
}

// ---------------------------------------------------------------- report

namespace {

struct Goal {
  std::string name;
  std::string unit;
  std::string text;
};

const std::vector<Goal> kGoals{
    {"ingest", "ops/s", ">= 0.5 x peer"},
    {"delivery", "events/s", ">= 1.0 x peer"},
    {"fanout", "s (p99)", "p99 <= 0.25 s and <= peer"},
    {"catchup", "events/s", ">= 100000 events/s"},
    {"memory", "KiB/conn", "<= 1.5 x peer and <= 16 KiB"},
};

// A side's file: JSON lines; samples of non-warm-up lines are pooled; other fields
// come from the last line; {"error": …} makes the side fail.
struct Side {
  bool ok = false;
  std::string error;
  std::vector<double> samples;
  Json extra = Json::object();
};

Side read_side(const std::string& path) {
  Side s;
  std::ifstream in(path);
  if (!in) {
    s.error = "did not run (no result)";
    return s;
  }
  std::string line;
  while (std::getline(in, line)) {
    auto j = Json::parse(line, nullptr, false);
    if (!j.is_object()) continue;
    if (j.contains("error")) {
      s.error = j["error"].is_string() ? j["error"].get<std::string>() : j["error"].dump();
      continue;
    }
    if (j.value("warmup", false)) continue;
    if (j.contains("samples")) {
      for (const auto& v : j["samples"]) s.samples.push_back(v.get<double>());
    }
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (it.key() != "samples" && it.key() != "median" && it.key() != "min" && it.key() != "max") {
        s.extra[it.key()] = it.value();
      }
    }
  }
  if (s.error.empty() && s.samples.empty()) s.error = "no samples";
  s.ok = s.error.empty();
  return s;
}

std::string fmt(double v) {
  if (std::isnan(v)) return "-";
  std::ostringstream o;
  const double a = std::fabs(v);
  if (a >= 1000) {
    o << std::fixed << std::setprecision(0) << v;
  } else if (a >= 10) {
    o << std::fixed << std::setprecision(1) << v;
  } else if (a >= 0.1) {
    o << std::fixed << std::setprecision(2) << v;
  } else {
    o << std::fixed << std::setprecision(4) << v;
  }
  return o.str();
}

std::string cell(const Side& s) {
  if (!s.ok) return "n/a";
  const auto mm = std::minmax_element(s.samples.begin(), s.samples.end());
  return fmt(median(s.samples)) + " [" + fmt(*mm.first) + "-" + fmt(*mm.second) + "] n=" +
         std::to_string(s.samples.size());
}

}  // namespace

// Reads DIR/<figure>.{muster,peer}.jsonl and DIR/limits.json, prints the table and
// writes the results file.
int cmd_report(const muster::Args& a) {
  const std::string dir = a.get_or("dir", ".");
  const std::string out_path = a.get_or("out", "bench-results.json");
  Json limits = Json::object();
  {
    std::ifstream in((fs::path(dir) / "limits.json").string());
    std::string line;
    if (std::getline(in, line)) limits = Json::parse(line, nullptr, false);
    if (!limits.is_object()) limits = Json::object();
  }
  Json figures = Json::array();
  std::ostringstream table;
  auto row = [&table](const std::vector<std::string>& cols) {
    static const int widths[] = {9, 9, 30, 30, 7, 28, 4};
    for (std::size_t i = 0; i < cols.size(); ++i) table << std::left << std::setw(widths[i]) << cols[i] << ' ';
    table << '\n';
  };
  row({"figure", "unit", "muster median [min-max]", "peer median [min-max]", "ratio", "goal", "met"});
  std::ostringstream notes;
  for (const auto& g : kGoals) {
    Side m = read_side((fs::path(dir) / (g.name + ".muster.jsonl")).string());
    Side p = read_side((fs::path(dir) / (g.name + ".peer.jsonl")).string());
    const double mv = m.ok ? median(m.samples) : std::nan("");
    const double pv = p.ok ? median(p.samples) : std::nan("");
    const double ratio = (m.ok && p.ok && pv != 0) ? mv / pv : std::nan("");
    bool met = false;
    if (m.ok) {
      if (g.name == "ingest") met = p.ok && ratio >= 0.5;
      if (g.name == "delivery") met = p.ok && ratio >= 1.0;
      if (g.name == "fanout") met = p.ok && mv <= 0.25 && mv <= pv && m.extra.value("missing", 0) == 0;
      if (g.name == "catchup") met = mv >= 100000;
      if (g.name == "memory") met = p.ok && mv <= 1.5 * pv && mv <= 16;
    }
    Json f{{"name", g.name},
           {"unit", g.unit},
           {"muster", m.ok ? Json(mv) : Json(nullptr)},
           {"peer", p.ok ? Json(pv) : Json(nullptr)},
           {"ratio", std::isnan(ratio) ? Json(nullptr) : Json(ratio)},
           {"goal", g.text},
           {"met", met}};
    if (m.ok) {
      f["muster_samples"] = m.samples;
      f["muster_detail"] = m.extra;
    } else {
      f["muster_error"] = m.error;
    }
    if (p.ok) {
      f["peer_samples"] = p.samples;
      f["peer_detail"] = p.extra;
    } else {
      f["peer_error"] = p.error;
    }
    figures.push_back(f);
    row({g.name, g.unit, cell(m), cell(p), fmt(ratio), g.text, met ? "yes" : "NO"});
    if (!m.ok) notes << "  " << g.name << ": muster did not run: " << m.error << '\n';
    if (!p.ok) notes << "  " << g.name << ": peer did not run: " << p.error << '\n';
    if (m.ok && m.extra.contains("note")) notes << "  " << g.name << " muster: " << m.extra["note"].get<std::string>() << '\n';
    if (p.ok && p.extra.contains("note")) notes << "  " << g.name << " peer: " << p.extra["note"].get<std::string>() << '\n';
  }
  Json result{{"limits", Json{{"fsync_per_s", limits.value("fsync_per_s", Json(nullptr))},
                              {"cores", limits.value("cores", Json(nullptr))},
                              {"load_at_start", limits.value("load_at_start", Json(nullptr))}}},
              {"figures", figures}};
  if (limits.contains("mode")) result["mode"] = limits["mode"];
  std::ofstream(out_path) << result.dump(2) << '\n';
  std::cout << "machine: " << limits.value("cores", 0) << " cores, "
            << (limits.contains("fsync_per_s") ? fmt(limits["fsync_per_s"].get<double>()) : std::string("?"))
            << " fsync/s on the data dir's disk (4 KiB write + fsync, 1 s)";
  if (limits.contains("load_at_start")) std::cout << ", load average " << fmt(limits["load_at_start"].get<double>()) << " at start";
  std::cout << "\n\n"
            << table.str();
  if (!notes.str().empty()) std::cout << "\nnotes:\n" << notes.str();
  std::cout << "\nwritten: " << out_path << '\n';
  return 0;
}

}  // namespace bench

namespace {

constexpr const char* kUsage = R"(usage: muster-bench COMMAND [options]   (each prints one JSON line)
  fsync-probe --dir D [--seconds 1]
  users --out FILE --prefix P --count N [--roles R] [--area A] [--password P]
  ingest --url U --users-file F [--prefix ing] [--connections 50] [--window 8] [--warmup 2] [--duration 5] [--reps 5]
  sqlite-ingest --dir D --batch B [--warmup 1] [--duration 5] [--reps 5]
  seed --url U --users-file F --user NAME --to TARGET --count N [--window 500]
  delivery --url U --users-file F --sender S --recipient R [--window 64] [--warmup 2] [--duration 5] [--reps 5] [--save-payload FILE]
  mqtt-delivery --broker tcp://H:P [--window 64] [--warmup 2] [--duration 5] [--reps 5] [--payload-file FILE]
  fanout --url U --users-file F --poster NAME --area A [--prefix fw] [--clients N] [--warmup 1] [--reps 5] [--save-payload FILE]
  mqtt-fanout --port P [--clients N] [--warmup 1] [--reps 5] [--payload-file FILE]
  catchup --url U --user NAME --token T [--device bench] --dir D [--warmup 1] [--reps 5] [--min-events N]
  sqlite-catchup --src log.db --scopes S1,S2 --dir D [--warmup-reps 1] [--reps 5]
  hold --url U --users-file F [--prefix mem] --count N --pid PID [--echo] [--settle 1]
  echo-server --listen 127.0.0.1:PORT
  report --dir D [--out bench-results.json]
  free-port
)";

}  // namespace

int main(int argc, char** argv) {
  auto args = muster::Args::parse(std::vector<std::string>(argv + 1, argv + argc), {"echo", "numbered", "help"});
  if (!args || args->word(0).empty() || args->flag("help")) {
    std::cerr << kUsage;
    return 1;
  }
  const std::string cmd = args->word(0);
  const std::map<std::string, int (*)(const muster::Args&)> commands{
      {"fsync-probe", bench::cmd_fsync_probe},     {"users", bench::cmd_users},
      {"sqlite-ingest", bench::cmd_sqlite_ingest}, {"sqlite-catchup", bench::cmd_sqlite_catchup},
      {"report", bench::cmd_report},               {"ingest", bench::cmd_ingest},
      {"seed", bench::cmd_seed},                   {"delivery", bench::cmd_delivery},
      {"fanout", bench::cmd_fanout},               {"hold", bench::cmd_hold},
      {"echo-server", bench::cmd_echo_server},     {"catchup", bench::cmd_catchup},
      {"mqtt-delivery", bench::cmd_mqtt_delivery}, {"mqtt-fanout", bench::cmd_mqtt_fanout},
      {"free-port", bench::cmd_free_port},
  };
  auto it = commands.find(cmd);
  if (it == commands.end()) {
    std::cerr << "muster-bench: unknown command '" << cmd << "'\n" << kUsage;
    return 1;
  }
  try {
    return it->second(*args);
  } catch (const std::exception& e) {
    std::cerr << "muster-bench " << cmd << ": " << e.what() << '\n';
    bench::emit(bench::Json{{"error", cmd + ": " + e.what()}});
    return 1;
  }
}
