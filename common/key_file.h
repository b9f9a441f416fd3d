// Key file: the one way the relay reads a secret from disk, the join key
// (--join-key-file, docs/API.md "Join control") that signs join tickets. It
// keeps the secret off command lines, where `ps` shows it to every local user.
//
// The rule checked: the file opens (symlinks are followed: secret stores such
// as Kubernetes' mount keys as symlinks), fstat of what was opened says it is
// a regular file (opened O_NONBLOCK, so a FIFO does not hang the start), it
// grants others no permission at all and neither group nor others may write
// it; the group may read it (root:sprites 0640 is how a key is handed to a
// service user). It holds at most kMaxKeyFileBytes; trailing spaces, tabs and
// line ends (what `echo` or an editor adds) are not part of the key.
//
// Every join key, from a file or from --join-key, must be at least
// kMinJoinKeyBytes long: RFC 7518 §3.2 asks HS256 keys to be as long as the
// hash (256 bits), and a short key is one an attacker can guess offline from
// any ticket he has seen.
//
// Dropped alternative: keeping the file open and reading it again on SIGHUP.
// The key is read once at start; a planned restart (which starts a new
// master) picks up a new key, so rotating it needs nothing more.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sprites {

inline constexpr size_t kMaxKeyFileBytes = 4096;
inline constexpr size_t kMinJoinKeyBytes = 32;

// Reads the key at `path` into `key`. Empty on success, else why not (a
// sentence that names the path and never the key).
std::string read_key_file(const std::string& path, std::string& key);

// Empty when `key` is long enough to be a join key, else why not.
std::string check_join_key(std::string_view key);

}  // namespace sprites
