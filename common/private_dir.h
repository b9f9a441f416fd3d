// Private directory: where the relay keeps what no other local user may touch,
// the IPC socket (a worker sends node ids and tokens through it) and the
// restart snapshot (every token). Both live in one directory that only the
// relay's user can write, so no other user can take a name there first, put
// a symlink or a FIFO in its place, or swap the file between a check and its
// use.
//
// The rule checked: a real directory (not a symlink), owned by this process's
// effective user (or root, who can do anything anyway), with no write
// permission for group or others. A directory this module creates is 0700.
// World-writable directories such as /tmp fail the rule even with the sticky
// bit: the sticky bit stops others removing our files, not taking a free name
// before us (which is how a socket path in /tmp is taken over).
//
// Also the safe way to open the files that live there: read with O_NOFOLLOW
// and O_NONBLOCK (a FIFO does not block, a symlink is not followed) and
// accepted only as a regular file of this user; written 0600 with
// O_CREAT|O_EXCL|O_NOFOLLOW.
//
// Dropped alternative: a random directory name (mkdtemp) per start. It would
// make a pre-created directory harmless, but the next master must find the
// snapshot of the last one, so the name has to be known in advance; a
// directory of another user is refused with an error that says so instead.
#pragma once

#include <sys/types.h>

#include <string>

namespace sprites {

// The directory part of `path` ("." when it has none).
std::string directory_of(const std::string& path);

// Empty when `dir` satisfies the rule above, else why not (for a log line).
std::string check_private_dir(const std::string& dir);

// Creates `dir` (mode 0700, its parent must exist) unless it exists, then
// checks it. Empty on success, else why not.
std::string ensure_private_dir(const std::string& dir);

// Opens `path` for reading with O_NOFOLLOW|O_NONBLOCK and checks that it is a
// regular file owned by this user. Returns the descriptor (blocking mode
// restored), -1 with errno ENOENT when there is no such file, or -1 with `why`
// set when it is there but refused.
int open_private_file_for_reading(const std::string& path, std::string& why);

// Creates `path` anew (an old file of that name is removed first) with mode
// 0600, O_CREAT|O_EXCL|O_NOFOLLOW. Returns the descriptor, or -1 with `why`.
int create_private_file(const std::string& path, std::string& why);

}  // namespace sprites
