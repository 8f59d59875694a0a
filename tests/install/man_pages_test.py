#!/usr/bin/env python3
"""Each man page says what its binary's --help says: the same option terms,
in the same order, and the same words throughout. The page is decoded here
on its own terms (roff requests and escapes), not by the generator's code,
so a page edited by hand, a stale page or a generator that drops text all
fail. groff must also render it without a warning.

Usage (meson runs it): man_pages_test.py BINARY PAGE [BINARY PAGE ...]
"""

import re
import shutil
import subprocess
import sys

HELP_HEADING = re.compile(r"^\S[^:]*:$")
HELP_TERM = re.compile(r"^ {1,2}(-\S.*?)(?: {2,}|$)")


def fail(text):
    print("FAIL: " + text)
    sys.exit(1)


def unescape(text):
    text = re.sub(r"\\f[BIRP]", "", text)
    return text.replace("\\-", "-").replace("\\&", "").replace("\\e", "\\")


def help_of(binary):
    """The words and the option terms of --help, headings and the usage
    line left out (the page has them as sections and a synopsis)."""
    result = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        fail(f"{binary} --help exited {result.returncode}")
    lines = result.stdout.split("\n")[1:]
    words, terms = [], []
    for line in lines:
        if HELP_HEADING.match(line):
            continue
        term = HELP_TERM.match(line)
        if term:
            terms.append(term.group(1))
        words.extend(line.split())
    return words, terms


def page_of(path):
    """The words after the DESCRIPTION heading (up to SEE ALSO), and the
    terms of its tagged paragraphs."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    words, terms = [], []
    section = None
    after_tp = False
    for line in lines:
        if line.startswith(".SH "):
            section = line[4:]
            continue
        if section in (None, "NAME", "SYNOPSIS", "SEE ALSO"):
            continue
        if line.startswith(".TP"):
            after_tp = True
            continue
        if line.startswith(".SS") or line.startswith(".PP"):
            continue
        if line.startswith("."):
            fail(f"{path}: unexpected request {line!r}")
        text = unescape(line)
        if after_tp:
            terms.append(text)
            after_tp = False
        words.extend(text.split())
    return words, terms


def check(binary, page):
    help_words, help_terms = help_of(binary)
    page_words, page_terms = page_of(page)
    if not help_terms:
        fail(f"{binary} --help lists no option")
    if page_terms != help_terms:
        fail(f"{page} options {page_terms} differ from --help {help_terms}")
    if page_words != help_words:
        for i, (a, b) in enumerate(zip(page_words, help_words)):
            if a != b:
                fail(f"{page} differs from --help at word {i}: {a!r} against {b!r}")
        fail(f"{page} has {len(page_words)} words, --help {len(help_words)}")
    lint = subprocess.run(["groff", "-man", "-ww", "-z", page], capture_output=True, text=True, timeout=30)
    if lint.returncode != 0 or lint.stderr.strip():
        fail(f"groff on {page}: {lint.stderr}")
    print(f"{page}: {len(page_terms)} options, {len(page_words)} words, the same as {binary} --help")


def main():
    if shutil.which("groff") is None:
        fail("groff is missing (scripts/install-deps installs groff-base)")
    arguments = sys.argv[1:]
    if not arguments or len(arguments) % 2 != 0:
        fail("usage: man_pages_test.py BINARY PAGE [BINARY PAGE ...]")
    for i in range(0, len(arguments), 2):
        check(arguments[i], arguments[i + 1])


if __name__ == "__main__":
    main()
