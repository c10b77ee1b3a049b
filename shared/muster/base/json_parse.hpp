// Parsing JSON text that comes from outside (frames, plugin lines, config files) with
// limits that hold before anything is built.
//
// Why a depth limit: nlohmann::json (3.11) parses and destroys iteratively, but copying,
// dumping and comparing a value recurse once per level of nesting, so a frame of
// 100,000 nested arrays that was merely parsed would overflow the stack the first time
// it is copied or written out. parse_limited scans the bytes for the nesting depth first
// (without recursion, counting '[' and '{' outside strings) and refuses too deep a text
// before nlohmann sees it.
//
// Pure. Thread: any.
#pragma once

#include <cstddef>
#include <string_view>

#include <nlohmann/json.hpp>

#include "muster/base/result.hpp"

namespace muster {

// The nesting depth of JSON text: 0 for a scalar, 1 for [] or {"a":1}, 2 for [[]] or
// {"a":{}}, counting only brackets outside strings; it stops counting once the depth
// passes `stop_after`. For text that is not JSON the answer is meaningless but finite.
std::size_t json_depth(std::string_view text, std::size_t stop_after);

// Parses `text`, one complete JSON value (whitespace around it is fine), checked in this
// order: at most `max_bytes` bytes, valid UTF-8, nested at most `max_depth` levels (see
// json_depth), valid JSON. Errors: invalid, with a message about `what`, e.g.
//   "frame is larger than the limit of 262144 bytes"
//   "frame is not valid UTF-8"
//   "frame is nested deeper than the limit of 64 levels"
//   "frame is not valid JSON"
Result<nlohmann::json> parse_limited(std::string_view text, std::size_t max_depth, std::size_t max_bytes,
                                     std::string_view what = "JSON text");

}  // namespace muster
