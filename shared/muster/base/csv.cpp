#include "muster/base/csv.hpp"

#include "muster/base/utf8.hpp"

namespace muster {

namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

}  // namespace

CsvReader::CsvReader(std::string_view text, CsvOptions options) : text_(text), options_(options) {
  if (text_.substr(0, kBom.size()) == kBom) text_.remove_prefix(kBom.size());
}

// Each line is checked when the reader first touches it rather than the whole text up
// front, so that problems come out in the order of the text. A line feed is never part
// of a multi-byte sequence, so checking line by line is checking the text.
bool CsvReader::line_is_utf8() {
  if (checked_line_ >= line_) return true;
  checked_line_ = line_;
  const std::size_t end = text_.find('\n', line_start_);
  if (valid_utf8(text_.substr(line_start_, end == std::string_view::npos ? end : end - line_start_))) return true;
  fail(line_, "invalid UTF-8");
  return false;
}

void CsvReader::newline() {
  ++pos_;  // the '\n'
  ++line_;
  line_start_ = pos_;
}

void CsvReader::skip_line_end() {
  if (at('\r')) {
    if (pos_ + 1 >= text_.size() || text_[pos_ + 1] != '\n') {
      fail(line_, "carriage return without a line feed");
      return;
    }
    ++pos_;
  }
  newline();
}

void CsvReader::skip_line() {
  const std::size_t end = text_.find('\n', pos_);
  if (end == std::string_view::npos) {
    pos_ = text_.size();
    return;
  }
  pos_ = end;
  newline();
}

void CsvReader::fail(int line, std::string message) {
  if (!problem_) problem_ = CsvProblem{line, std::move(message)};
}

std::optional<CsvRecord> CsvReader::next() {
  for (;;) {  // empty and comment lines
    if (problem_ || !line_is_utf8() || pos_ >= text_.size()) return std::nullopt;
    if (at('\n') || at('\r')) {
      skip_line_end();
    } else if (options_.comment != '\0' && at(options_.comment)) {
      skip_line();
    } else {
      break;
    }
  }
  CsvRecord r;
  r.line = line_;
  if (++records_ > options_.max_records) {
    fail(line_, "more records than the limit of " + std::to_string(options_.max_records));
    return std::nullopt;
  }
  for (;;) {
    auto field = read_field();
    if (!field) return std::nullopt;
    if (r.fields.size() == options_.max_fields) {
      fail(r.line, "a record with more fields than the limit of " + std::to_string(options_.max_fields));
      return std::nullopt;
    }
    r.fields.push_back(std::move(*field));
    if (at(',')) {
      ++pos_;
      continue;
    }
    // read_field stops only at ',', a line end or the end of the text. A problem with
    // the line end is this record's; anything on the next line waits for the next call.
    if (pos_ < text_.size()) skip_line_end();
    if (problem_) return std::nullopt;
    return r;
  }
}

std::optional<std::string> CsvReader::read_field() {
  std::string out;
  const int start = line_;
  auto add = [&](char c) {
    if (out.size() == options_.max_field_bytes) {
      fail(start, "a field larger than the limit of " + std::to_string(options_.max_field_bytes) + " bytes");
      return false;
    }
    out += c;
    return true;
  };
  if (at('"')) {
    ++pos_;
    for (;;) {
      if (pos_ >= text_.size()) {
        fail(start, "quoted field is not closed (a \" is missing)");
        return std::nullopt;
      }
      const char c = text_[pos_];
      if (c == '"') {
        ++pos_;
        if (!at('"')) break;
        ++pos_;
        if (!add('"')) return std::nullopt;
        continue;
      }
      if (!add(c)) return std::nullopt;
      if (c == '\n') {
        newline();
        if (!line_is_utf8()) return std::nullopt;
      } else {
        ++pos_;
      }
    }
    if (pos_ < text_.size() && !at(',') && !at('\n') && !at('\r')) {
      fail(line_, "unexpected text after a closing quote (write \"\" for a quote inside quotes)");
      return std::nullopt;
    }
    return out;
  }
  while (pos_ < text_.size() && !at(',') && !at('\n') && !at('\r')) {
    if (at('"')) {
      fail(line_, "quote inside an unquoted field (quote the whole field and write \"\" for a quote)");
      return std::nullopt;
    }
    if (!add(text_[pos_])) return std::nullopt;
    ++pos_;
  }
  return out;
}

}  // namespace muster
