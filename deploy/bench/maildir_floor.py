#!/usr/bin/env python3
"""maildir_floor.py DIR [COUNT] [SIZE] - the kernel's cost of one Maildir delivery, nothing else.

Creates DIR/tmp and DIR/new, then COUNT times (default 20000, at most 200000): create
tmp/<unique name> exclusively, write SIZE bytes (default 1200, about a 1 KiB message with its
headers), close, rename into new/ - the file work of a delivery without fsync, as our writers do
it between group commits. Prints the system and user CPU per file and the wall time per file, for
comparison with the `mailstore-deliver` row of cpu_threads.py. The files are left in place (a mass
delete slows file creation on this ext4 for minutes; see README.md, Caveats). DIR must be under
/tmp and new/ empty.
"""
import os
import resource
import sys
import time


def main():
    if not 2 <= len(sys.argv) <= 4:
        sys.exit(__doc__)
    d = os.path.abspath(sys.argv[1])
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    size = int(sys.argv[3]) if len(sys.argv) > 3 else 1200
    if not d.startswith("/tmp/") or not (1 <= count <= 200000) or not (0 <= size <= 1 << 20):
        sys.exit("DIR must be under /tmp, COUNT 1..200000, SIZE 0..1048576")
    os.makedirs(f"{d}/tmp", exist_ok=True)
    os.makedirs(f"{d}/new", exist_ok=True)
    if os.listdir(f"{d}/new"):
        sys.exit(f"{d}/new is not empty: give a fresh DIR")
    data = b"x" * size
    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    for i in range(count):
        name = f"{time.time_ns()}.P{os.getpid()}Q{i}.floor"
        tmp = f"{d}/tmp/{name}"
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        os.rename(tmp, f"{d}/new/{name}")
    r1, wall = resource.getrusage(resource.RUSAGE_SELF), time.monotonic() - t0
    print(f"files={count} size={size} sys_us_per_file={(r1.ru_stime - r0.ru_stime) / count * 1e6:.1f} "
          f"user_us_per_file={(r1.ru_utime - r0.ru_utime) / count * 1e6:.1f} "
          f"wall_us_per_file={wall / count * 1e6:.1f}")


if __name__ == "__main__":
    main()
