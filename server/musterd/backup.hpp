// `musterd backup` and `musterd restore` (README "Backups and restore").
//
// A backup is a directory, made while musterd serves or not:
//   log.db, directory.db   SQLite online backups (sqlite3_backup_*), each one consistent
//                          snapshot taken under one read transaction (the server goes on
//                          writing meanwhile), log.db first so the directory has every
//                          user the log names; single files (journal_mode=DELETE)
//   policy.json, broker-password   copies, where the data dir has them
//   manifest.json          what restore checks: format and version, each file's size
//                          and SHA-256, the schema versions, and what the log holds
//                          (last gseq, each scope's last seq, events, sealed notes)
// Everything is 0600 in a 0700 directory. The hotline key is never in it: it is written
// separately (--key-out FILE), since whoever holds both reads every hotline note.
//
// Restore refuses a target that is not empty, a manifest it does not know or files
// that differ from it, and a log with sealed notes without their key; it writes the
// data dir, brings its schema to this version and checks the log against the
// manifest. On failure it leaves the target as it found it.
#pragma once

#include <string>

#include "muster/base/args.hpp"

namespace musterd {

// `musterd backup --data DIR --out BACKUP [--key-out FILE]`; returns the exit code.
int cmd_backup(const muster::Args& a);
// `musterd restore BACKUP --data NEWDIR [--key FILE]`; returns the exit code.
int cmd_restore(const muster::Args& a);

}  // namespace musterd
