"""Shared by scripts/gen-man and scripts/gen-completion: the tools' option tables, read from
what each program prints with --help-markdown (and, for the `fwtrust` dispatcher, --help).

walk(tooldir, prog) returns the command tree of a program: Node(name, summary, sec, globals,
children), sec being the parsed Markdown section (usage, description, own options, epilog).
"""
import os
import re
import subprocess


def run(argv):
    r = subprocess.run(argv, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("gen-man: %s failed (exit %d): %s" % (" ".join(argv), r.returncode, r.stderr.strip()))
    return r.stdout


def md_unescape(s):
    return s.replace("\\|", "|")


def split_row(line):
    # "| `a` | b \| c |" -> ["`a`", "b | c"]
    cells, cur, i = [], "", 1
    while i < len(line):
        ch = line[i]
        if ch == "\\" and i + 1 < len(line) and line[i + 1] == "|":
            cur += "|"
            i += 2
            continue
        if ch == "|":
            cells.append(cur.strip())
            cur = ""
        else:
            cur += ch
        i += 1
    return cells


class Section:
    """One '## name' or '### name' block of --help-markdown."""

    def __init__(self, name):
        self.name = name
        self.usage = ""
        self.paras = []     # description paragraphs (before the first table)
        self.commands = []  # (head, summary)
        self.options = []   # (names, help) of the section's own options
        self.globals = []   # (names, help) global options (program sections only)
        self.epilog = []    # paragraphs after the tables


def parse_markdown(text):
    sections = []
    cur = None
    table = None     # "commands" | "options" | "globals"
    after_tables = False
    pending_globals = False
    for raw in text.split("\n"):
        line = raw.rstrip()
        m = re.match(r"^(##|###) (.+)$", line)
        if m:
            cur = Section(m.group(2))
            sections.append(cur)
            table, after_tables, pending_globals = None, False, False
            continue
        if cur is None:
            continue
        if line.startswith("    ") and not cur.usage:
            cur.usage = line.strip()
            continue
        if line.startswith("| command | meaning"):
            table = "commands"
            continue
        if line.startswith("| option | meaning"):
            table = "globals" if pending_globals else "options"
            continue
        if line.startswith("|---"):
            continue
        if line.startswith("| ") and table:
            cells = split_row(line)
            if len(cells) >= 2:
                head = cells[0].strip("`")
                entry = (head, cells[1])
                {"commands": cur.commands, "options": cur.options, "globals": cur.globals}[table].append(entry)
            continue
        if line == "":
            if table:
                after_tables = True
            table = None
            continue
        if line in ("Options:", "Global options (before or after the command):"):
            pending_globals = line.startswith("Global") or bool(cur.commands)
            continue
        target = cur.epilog if after_tables else cur.paras
        target.append(md_unescape(line))
    return sections


def top_commands(tooldir, prog):
    """Usage, commands and options of a dispatcher without --help-markdown (fwtrust): from
    its --help (options other than --help and --version, which every page has)."""
    text = run([os.path.join(tooldir, prog), "--help"])
    cmds, opts, desc, usage, part = [], [], "", "", None
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if i == 0 and line.startswith("usage: "):
            usage = line[len("usage: "):].strip()
        if i == 2:
            desc = line.strip()
        if line.startswith("Commands:") or line.startswith("Options:"):
            part = line[:-1]
            continue
        if line.strip() == "":
            part = None
        elif part == "Commands":
            m = re.match(r"^  (\S+)\s+(.*)$", line)
            if m:
                cmds.append((m.group(1), m.group(2)))
        elif part == "Options":
            m = re.match(r"^\s+((?:-\w, )?--[\w-]+)\s{2,}(.*)$", line)
            if m and m.group(1) not in ("-h, --help", "--version"):
                opts.append((m.group(1), m.group(2)))
    epilog = [ln for ln in lines if ln.startswith("Exit status")]
    return desc, cmds, epilog, usage, opts



class Node:
    def __init__(self, name, summary, sec, globals_, children, epilog):
        self.name, self.summary, self.sec = name, summary, sec
        self.globals, self.children, self.epilog = globals_, children, epilog


def walk(tooldir, prog):
    exe = os.path.join(tooldir, prog)
    r = subprocess.run([exe, "--help-markdown"], capture_output=True, text=True)
    if r.returncode == 0:
        return walk_markdown(r.stdout, None)
    # A dispatcher without --help-markdown of its own (fwtrust): --help, then each command's.
    desc, cmds, epilog, usage, opts = top_commands(tooldir, prog)
    top = Section(prog)
    top.usage = usage or "%s [--version] [--help] COMMAND [ARGS]" % prog
    top.paras = [desc]
    top.options = opts
    children = [walk_markdown(run([exe, cmd, "--help-markdown"]), summ) for cmd, summ in cmds]
    return Node(prog, desc, top, [], children, epilog)


def walk_markdown(text, summary):
    secs = parse_markdown(text)
    if not secs:
        raise SystemExit("empty --help-markdown")
    head, subs = secs[0], {s.name: s for s in secs[1:]}
    if summary is None:
        summary = head.paras[0].split(". ")[0] if head.paras else ""
    if not head.commands:
        return Node(head.name, summary, head, [], [], head.epilog)
    glob = head.globals or head.options
    children = []
    for cmd_head, summ in head.commands:
        # The command's name may have several words ("log verify"): the longest section
        # name that starts the table's head (name, then operands).
        s, words = None, cmd_head.split(" ")
        for n in range(len(words), 0, -1):
            s = subs.get("%s %s" % (head.name, " ".join(words[:n])))
            if s is not None:
                break
        if s is None:
            raise SystemExit("%s lists %s but has no section for it" % (head.name, cmd_head))
        children.append(Node(s.name, summ, s, glob, [], head.epilog))
    return Node(head.name, summary, head, glob, children, head.epilog)
