// The caps on every string an op carries, in one place (docs/protocol.md "Limits").
// A field over its cap makes the op `invalid` ("field 'title' is longer than 400
// bytes") and changes nothing; the op kind is checked before anything else. Sizes are
// in bytes of UTF-8 (a Chinese character is 3).
#pragma once

#include <cstddef>

namespace muster::domain {

// The op's `kind` ("task.create"); checked first, so a huge unknown kind is neither
// looked up nor repeated in the error.
inline constexpr std::size_t kMaxOpKindBytes = 64;

// Titles: task.create, headcount.open.
inline constexpr std::size_t kMaxTitleBytes = 400;
// A task's step note (task.claim, task.done, ...).
inline constexpr std::size_t kMaxNoteBytes = 2000;
// A task's `details`: at most this many entries, keys of at most kMaxNameBytes.
inline constexpr std::size_t kMaxDetails = 32;
inline constexpr std::size_t kMaxDetailBytes = 1000;
// Message and notice bodies.
inline constexpr std::size_t kMaxMessageBytes = 8000;
inline constexpr std::size_t kMaxNoticeBytes = 8000;
// Hotline call notes (sealed by the server), category and follow-up brief.
inline constexpr std::size_t kMaxNotesBytes = 16 * 1024;
inline constexpr std::size_t kMaxCategoryBytes = 64;
inline constexpr std::size_t kMaxBriefBytes = 400;
// A shift's post.
inline constexpr std::size_t kMaxPostBytes = 100;

// Names: a user (assignee, a swap's `to`), a skill, a task kind.
inline constexpr std::size_t kMaxNameBytes = 64;
// A message's `to`: a user name or a scope ("role:lead", "area:gulou/antai").
inline constexpr std::size_t kMaxRecipientBytes = 300;
// An area path (gulou/antai/yili).
inline constexpr std::size_t kMaxAreaBytes = 256;
// Ids of tasks, notices, shifts, rounds, swaps.
inline constexpr std::size_t kMaxIdBytes = 64;
inline constexpr std::size_t kMaxHouseholdIdBytes = 32;
// Times (RFC 3339) and enum words (priority, dispatch, status).
inline constexpr std::size_t kMaxTimeBytes = 64;
inline constexpr std::size_t kMaxWordBytes = 16;

}  // namespace muster::domain
