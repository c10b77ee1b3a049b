// musterd's commands and options, declared once (muster/base/command_line.hpp). Keep it
// in step with the usage text (commands.cpp) and the README.
#include "musterd/command_tree.hpp"

namespace musterd {

void declare_commands(muster::CommandTree& t) {
  using Node = muster::CommandTree::Node;
  auto root = t.root();
  auto data = [&t](Node n) { t.option(n, "--data", "DIR"); };

  auto init = t.command(root, "init");
  data(init);
  t.option(init, "--admin", "NAME");
  t.option(init, "--area", "PATH");
  t.flag(init, "--password-stdin");

  auto user = t.command(root, "user");
  auto user_add = t.command(user, "add", "NAME");
  data(user_add);
  t.option(user_add, "--role", "R[,R]");
  t.option(user_add, "--area", "PATH");
  t.flag(user_add, "--create-area");
  t.option(user_add, "--display", "TEXT");
  t.option(user_add, "--skills", "S[,S]");
  t.flag(user_add, "--password-stdin");
  data(t.command(user, "skills", "NAME SKILLS"));
  auto user_passwd = t.command(user, "passwd", "NAME");
  data(user_passwd);
  t.flag(user_passwd, "--password-stdin");
  data(t.command(user, "disable", "NAME"));
  data(t.command(user, "enable", "NAME"));
  auto user_import = t.command(user, "import", "FILE");
  data(user_import);
  t.option(user_import, "--device", "NAME");
  t.flag(user_import, "--create-area");
  auto user_list = t.command(user, "list");
  data(user_list);
  t.flag(user_list, "--json");

  auto area = t.command(root, "area");
  data(t.command(area, "add", "PATH"));
  auto area_list = t.command(area, "list");
  data(area_list);
  t.flag(area_list, "--json");

  auto import = t.command(root, "import");
  data(t.command(import, "households", "FILE"));

  auto serve = t.command(root, "serve");
  data(serve);
  t.option(serve, "--listen", "HOST:PORT");
  t.option(serve, "--max-frame", "BYTES");
  t.option(serve, "--allow-origin", "ORIGIN");
  t.option(serve, "--tls-cert", "CHAIN.pem");
  t.option(serve, "--tls-key", "KEY.pem");
  t.flag(serve, "--insecure-listen");
  t.option(serve, "--mqtt", "tcp://HOST:PORT");
  t.option(serve, "--mqtt-user", "U");
  t.option(serve, "--mqtt-password-file", "F");
  t.option(serve, "--plugin", "PATH");
  t.option(serve, "--plugin-config", "FILE");
  t.option(serve, "--clock-file", "F");
  t.choice(serve, "--log-level", {"trace", "debug", "info", "warn", "error"});
  t.option(serve, "--metrics-token", "FILE");
  t.option(serve, "--metrics-listen", "127.0.0.1:PORT");
  t.option(serve, "--max-unauthenticated", "N");
  t.option(serve, "--max-unauthenticated-per-address", "N");
  t.option(serve, "--login-workers", "N");
  t.option(serve, "--max-pending-logins", "N");

  data(t.command(root, "policy"));

  auto broker = t.command(root, "broker-config");
  data(broker);
  t.option(broker, "--out", "DIR");
  t.option(broker, "--listen", "HOST:PORT");
  t.option(broker, "--tls-listen", "HOST:PORT");
  t.option(broker, "--tls-cert", "CHAIN.pem");
  t.option(broker, "--tls-key", "KEY.pem");

  auto hotline = t.command(root, "hotline");
  auto purge = t.command(hotline, "purge");
  data(purge);
  t.option(purge, "--older-than", "DAYS");
  t.option(purge, "--wait", "S");
  t.option(purge, "--clock-file", "F");

  auto backup = t.command(root, "backup");
  data(backup);
  t.option(backup, "--out", "BACKUP_DIR");
  t.option(backup, "--key-out", "FILE");

  auto restore = t.command(root, "restore", "BACKUP_DIR");
  data(restore);
  t.option(restore, "--key", "FILE");

  t.command(root, "help", "", true);
  t.command(t.command(root, "completion", "", true), "bash");
}

}  // namespace musterd
