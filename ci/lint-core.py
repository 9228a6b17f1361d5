#!/usr/bin/env python3
"""The core rule, enforced: nothing under core/ may create a thread, open a socket or file,
sleep, read a clock, read the environment or draw OS randomness. core/ reaches all of those only
through the interfaces in core/runtime/, which is what keeps the simulator honest.

Usage: ci/lint-core.py [DIR ...]   (default: core/ next to this script)
Exit 0 when clean, 1 with one line per violation (file:line: what, why) otherwise.
Comments and string literals are stripped before matching, so prose may name banned things.
"""
import os
import re
import sys

BANNED_INCLUDES = {
    # threads and synchronisation
    "thread": "threads", "mutex": "threads", "shared_mutex": "threads",
    "condition_variable": "threads", "future": "threads", "semaphore": "threads",
    "latch": "threads", "barrier": "threads", "stop_token": "threads", "atomic": "threads",
    "pthread.h": "threads",
    # clocks, sleeps, signals
    "ctime": "clocks", "time.h": "clocks", "sys/time.h": "clocks", "csignal": "signals",
    "signal.h": "signals",
    # sockets and event loops
    "sys/socket.h": "sockets", "netinet/in.h": "sockets", "netinet/tcp.h": "sockets",
    "arpa/inet.h": "sockets", "netdb.h": "sockets", "sys/epoll.h": "event loops",
    "poll.h": "event loops", "sys/select.h": "event loops", "linux/vm_sockets.h": "sockets",
    # files, processes, devices
    "fstream": "files", "filesystem": "files", "cstdio": "files/stdio", "stdio.h": "files/stdio",
    "iostream": "console I/O", "unistd.h": "OS calls", "fcntl.h": "files",
    "sys/mman.h": "files", "sys/stat.h": "files", "dirent.h": "files", "sys/ioctl.h": "devices",
    "dlfcn.h": "dynamic loading", "sys/random.h": "OS randomness",
    # randomness outside runtime::Random
    "random": "randomness (use runtime::Random)", "openssl/rand.h": "OS randomness",
}
BANNED_INCLUDE_PREFIXES = {"boost/asio": "event loops", "linux/": "OS interfaces",
                           "sys/": "OS interfaces"}

BANNED_PATTERNS = [
    (r"\bstd::(j?thread|async|this_thread|mutex|condition_variable)\b", "threads"),
    (r"\bpthread_\w+", "threads"),
    (r"\b(steady_clock|system_clock|high_resolution_clock|utc_clock|file_clock|tai_clock|gps_clock)\b", "clocks"),
    (r"(?<![\w.>])(::)?(time|gettimeofday|clock_gettime|clock|localtime|gmtime|timespec_get)\s*\(", "clocks"),
    (r"(?<![\w.>:])(::)?(sleep|usleep|nanosleep|clock_nanosleep)\s*\(", "sleeps"),
    (r"\brandom_device\b|\bmt19937\w*|(?<![\w.>])(::)?s?rand\s*\(", "randomness (use runtime::Random)"),
    (r"\b(randombytes_buf|randombytes_random|randombytes_uniform|RAND_bytes|RAND_priv_bytes|getrandom)\b", "OS randomness (use runtime::Random)"),
    (r"\b(secure_)?getenv\s*\(|\bsetenv\s*\(|\benviron\b", "environment"),
    (r"(?<![\w>])::(socket|bind|listen|accept4?|connect|send|recv|sendto|recvfrom|open|close|read|write|poll|select|epoll_\w+)\s*\(", "OS calls"),
    (r"\b(fopen|freopen|popen|mmap|ioctl|fork|execv\w*|system)\s*\(", "files/processes"),
    (r"\bstd::(i|o)?fstream\b|\bstd::filesystem\b|\bstd::(cout|cerr|clog|cin)\b|\bprintf\s*\(", "files/console I/O"),
]

SOURCE_EXT = (".h", ".hh", ".hpp", ".cc", ".cpp", ".cxx", ".c", ".ipp", ".inc")


def strip_comments_and_strings(text):
    """Replaces comments and string/char literals by spaces, keeping line structure."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("".join("\n" if ch == "\n" else " " for ch in text[i:j]))
            i = j
        elif c == 'R' and text.startswith('R"', i):
            m = re.match(r'R"([^(]*)\(', text[i:])
            if not m:
                out.append(c)
                i += 1
                continue
            end = text.find(")" + m.group(1) + '"', i)
            j = n if end < 0 else end + len(m.group(1)) + 2
            out.append("".join("\n" if ch == "\n" else " " for ch in text[i:j]))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + " " * (j - i - 2) + c if j - i >= 2 else " " * (j - i))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


INCLUDE_RE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]')


def lint_file(path):
    problems = []
    with open(path, encoding="utf-8", errors="replace") as f:
        raw = f.read()
    # Includes are read from the raw text (their names are string-like), code from the stripped.
    for lineno, line in enumerate(raw.splitlines(), 1):
        m = INCLUDE_RE.match(line)
        if not m:
            continue
        name = m.group(1)
        why = BANNED_INCLUDES.get(name)
        if why is None:
            for prefix, reason in BANNED_INCLUDE_PREFIXES.items():
                if name.startswith(prefix):
                    why = reason
        if why:
            problems.append(f"{path}:{lineno}: banned include <{name}> ({why})")
    code = strip_comments_and_strings(raw)
    for lineno, line in enumerate(code.splitlines(), 1):
        if INCLUDE_RE.match(line):
            continue
        for pattern, why in BANNED_PATTERNS:
            m = re.search(pattern, line)
            if m:
                problems.append(f"{path}:{lineno}: banned '{m.group(0).strip()}' ({why})")
    return problems


def main(argv):
    roots = argv[1:] or [os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "core")]
    problems, files = [], 0
    for root in roots:
        if not os.path.isdir(root):
            print(f"lint-core: no such directory: {root}", file=sys.stderr)
            return 2
        for dirpath, _, names in os.walk(root):
            for name in sorted(names):
                if name.endswith(SOURCE_EXT):
                    files += 1
                    problems.extend(lint_file(os.path.join(dirpath, name)))
    for p in problems:
        print(p)
    print(f"lint-core: {files} files, {len(problems)} violations")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
