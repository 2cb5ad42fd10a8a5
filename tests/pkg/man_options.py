#!/usr/bin/env python3
"""Every manual page lists exactly the options that the command's --help lists.

usage: man_options.py TOOLDIR MANDIR PROGRAM...
Walks each program's commands from its --help output (not from --help-markdown, which the
pages are made from), finds the page of each (fwtrust-repo-init.1 for `fwtrust repo init`),
and compares the option names defined in the page's option lists with those --help prints:
an option missing on either side fails, naming the page and the option. Also fails when a
command has no page, or a page belongs to no command.
"""
import os
import re
import subprocess
import sys

OPT_LINE = re.compile(r"^  (-[A-Za-z0-9], )?--[a-z0-9]|^      --[a-z0-9]")


def help_text(tooldir, words):
    exe = os.path.join(tooldir, words[0])
    r = subprocess.run([exe] + words[1:] + ["--help"], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("%s --help: exit %d: %s" % (" ".join(words), r.returncode, r.stderr.strip()))
    return r.stdout


def help_options(text):
    opts = set()
    for line in text.split("\n"):
        if OPT_LINE.match(line):
            names = re.split(r"\s{2,}", line.strip())[0]
            for part in re.split(r", (?=-)", names):  # an argument may hold ", "
                opts.add(part.split(" ")[0])
    return opts


def help_commands(text):
    cmds, on = [], False
    for line in text.split("\n"):
        if line.startswith("Commands:"):
            on = True
            continue
        if on:
            if not line.startswith("  "):
                if line.strip() == "":
                    on = False
                continue
            if line.startswith("   "):
                continue  # a continuation line of the summary
            head = re.split(r"\s{2,}", line.strip())[0]
            words = []
            for w in head.split(" "):
                if not re.match(r"^[a-z][a-z0-9-]*$", w):
                    break
                words.append(w)
            if words:
                cmds.append(words)
    return cmds


def walk(tooldir, words, out):
    text = help_text(tooldir, words)
    out[tuple(words)] = help_options(text)
    for cmd in help_commands(text):
        # a group's --help names its commands in full ("log verify" under "log")
        if cmd[:len(words) - 1] == words[1:] and len(words) > 1:
            cmd = cmd[len(words) - 1:]
        sub = words + cmd
        if tuple(sub) in out:
            continue
        walk(tooldir, sub, out)


def page_options(path):
    opts = set()
    for line in open(path, encoding="utf-8"):
        if line.startswith("\\fB-"):
            for m in re.finditer(r"\\fB(-[-A-Za-z0-9]*)\\fR", line):
                opts.add(m.group(1))
    return opts


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    tooldir, mandir, progs = argv[0], argv[1], argv[2:]
    cmds = {}
    for p in progs:
        walk(tooldir, [p], cmds)
    bad = 0
    pages = {f[:-2] for f in os.listdir(mandir) if f.endswith(".1")}
    seen = set()
    for words, hopts in sorted(cmds.items()):
        name = "-".join(words)
        path = os.path.join(mandir, name + ".1")
        if not os.path.exists(path):
            # a group of commands without options of its own ("fwtrust-agent log") needs no page
            if any(k[:len(words)] == words and len(k) > len(words) for k in cmds):
                continue
            print("%s: no manual page %s.1" % (" ".join(words), name))
            bad += 1
            continue
        seen.add(name)
        popts = page_options(path)
        for o in sorted(hopts - popts):
            print("%s.1: lacks %s (in '%s --help')" % (name, o, " ".join(words)))
            bad += 1
        for o in sorted(popts - hopts):
            print("%s.1: has %s, which '%s --help' does not list" % (name, o, " ".join(words)))
            bad += 1
    for extra in sorted(pages - seen):
        print("%s.1: no command has this page" % extra)
        bad += 1
    print("%d commands, %d pages checked, %d problems" % (len(cmds), len(seen), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
