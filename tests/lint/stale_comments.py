#!/usr/bin/env python3
"""Comments that name what is not there.

Every identifier a comment names -- pdc_* anywhere, s_* (a static helper)
in its own file -- must exist in the code (outside comments) of the tree,
so that a comment never describes a function that moved or went away.
Usage: stale_comments.py SOURCE_ROOT; prints each stale name with its file
and line, and exits 1 if there is one."""
import os
import re
import sys

DIRS = ["include", "runtime", "actors", "objectstore", "gpu", "examples", "bench", "tests"]
COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
STRING = re.compile(r'"(?:\\.|[^"\\\n])*"')
NAME = re.compile(r"\b(pdc_[a-z0-9_]*[a-z0-9]|s_[a-z0-9_]*[a-z0-9])\b")


def sources(root):
    for d in DIRS:
        for base, _, files in os.walk(os.path.join(root, d)):
            for f in files:
                if f.endswith((".c", ".h", ".cpp", ".cu")):
                    yield os.path.join(base, f)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    texts = {p: open(p, encoding="utf-8", errors="replace").read() for p in sources(root)}
    code = {}
    for p, t in texts.items():
        c = COMMENT.sub(" ", STRING.sub('""', t))
        code[p] = set(re.findall(r"\b\w+\b", c))
    everywhere = set().union(*code.values())
    # A module is named by its files (pdc_store for pdc_store.c/.h).
    everywhere |= {os.path.splitext(os.path.basename(p))[0] for p in texts}
    stale = 0
    for p, t in sorted(texts.items()):
        for m in COMMENT.finditer(t):
            for n in NAME.finditer(m.group(0)):
                name = n.group(1)
                known = code[p] if name.startswith("s_") else everywhere
                # A name ending in _ is a prefix ("pdc_store_*"), and a
                # macro-built name is spelled in pieces.
                if name in known or name + "_t" in known:
                    continue
                line = t.count("\n", 0, m.start() + n.start()) + 1
                print(f"{os.path.relpath(p, root)}:{line}: the comment names {name}, "
                      f"which is not in the code")
                stale += 1
    print(f"stale_comments: {stale} stale name(s) in {len(texts)} files")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
