// CSV text read as RFC 4180 records (https://www.rfc-editor.org/rfc/rfc4180), strictly.
// The one CSV reader: `musterd import households` and `musterd user import` both read
// their files with it and add only their own column checks.
//
//   - Fields are separated by commas, records end in LF or CRLF; the last record may
//     lack its line end. A carriage return without a line feed is an error.
//   - A field in double quotes may hold commas, line breaks (kept as written) and ""
//     for one quote. A quote inside an unquoted field, or text after a closing quote,
//     is an error. Fields are kept as written otherwise: nothing is trimmed.
//   - The text must be UTF-8; a leading byte order mark is dropped.
//   - Empty lines are skipped; a line of spaces is a record of one field. A trailing
//     comma is one more, empty field.
//   - Not RFC 4180, off unless asked for: with `comment` set, a line that starts with
//     that character where a record would start is skipped like an empty line.
//   - Limits: a field's size in bytes, the fields of one record and the records of the
//     text (empty and comment lines are not records). Going over one is an error that
//     names the limit.
//
// Strict: the first problem ends the reading. Problems come in the order of the text,
// each with the line it is on (1-based, as an editor counts them, so a line break
// inside quotes is a line too): invalid UTF-8 at the line of the bad byte, before
// anything else on that line; an unclosed quote at the line it opens; a field that is
// too large at the line it starts; too many fields or records at the line the record
// starts; anything else at the line where it is found. A record is returned before a
// problem found on a later line, so a caller's own check of that record comes first.
//
// Pure: no files. Thread: any; one reader is used by one thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace muster {

struct CsvRecord {
  int line = 0;                     // the line the record starts on
  std::vector<std::string> fields;  // at least one (an empty line is no record)
};

struct CsvOptions {
  std::size_t max_field_bytes = 64 * 1024;
  std::size_t max_fields = 256;       // per record
  std::size_t max_records = 1000000;  // in the whole text, a header row included
  char comment = '\0';                // '\0': no comment lines (RFC 4180)
};

struct CsvProblem {
  int line = 0;
  std::string message;  // e.g. "quoted field is not closed (a \" is missing)"
};

class CsvReader {
 public:
  // `text` must outlive the reader.
  explicit CsvReader(std::string_view text, CsvOptions options = {});

  // The next record; nullopt at the end of the text or on the first problem, after
  // which it stays nullopt. Tell the two apart with problem().
  std::optional<CsvRecord> next();

  // The problem that ended the reading, if one did.
  const std::optional<CsvProblem>& problem() const { return problem_; }

 private:
  bool at(char c) const { return pos_ < text_.size() && text_[pos_] == c; }
  bool line_is_utf8();
  void newline();
  void skip_line_end();
  void skip_line();
  std::optional<std::string> read_field();
  void fail(int line, std::string message);

  std::string_view text_;
  CsvOptions options_;
  std::size_t pos_ = 0;
  int line_ = 1;
  std::size_t line_start_ = 0;  // where line_ starts in text_
  int checked_line_ = 0;        // lines up to this one are known to be UTF-8
  std::size_t records_ = 0;
  std::optional<CsvProblem> problem_;
};

}  // namespace muster
