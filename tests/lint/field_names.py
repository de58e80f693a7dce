#!/usr/bin/env python3
"""Message fields are read by name.

pdc_proto.h names every field of every message and tuple
(PDC_LEASE_GRANT_NODE, PDC_ARG_KIND, ...); code that indexes a decoded
message or tuple by a number (`fields[4]`, `pair[1]`, `n[6]`) reads a
field by its position and breaks silently when a message changes.  This
check finds such reads in the runtime.
Usage: field_names.py SOURCE_ROOT; exits 1 and prints each one found."""
import os
import re
import sys

DIRS = ["runtime", "actors", "objectstore", "gpu"]
# A decoded message's fields, a tuple's elements (via.array.ptr), or a
# msgpack_object pointer taken from them, indexed by a literal number.
READ = re.compile(r"(?:\bfields|via\.array\.ptr)\[\d+\]|pdc_f_\w+\(\s*&\s*\w+\[\d+\]")
COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    found = 0
    for d in DIRS:
        for base, _, files in os.walk(os.path.join(root, d)):
            for name in files:
                if not name.endswith((".c", ".h")):
                    continue
                path = os.path.join(base, name)
                text = open(path, encoding="utf-8", errors="replace").read()
                code = COMMENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
                for m in READ.finditer(code):
                    line = code.count("\n", 0, m.start()) + 1
                    print(f"{os.path.relpath(path, root)}:{line}: {m.group(0)} reads a field "
                          f"by position; use its name from pdc_proto.h")
                    found += 1
    print(f"field_names: {found} positional read(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
