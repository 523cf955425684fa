#!/usr/bin/python3
"""Keeps docs/grpcurl.md honest without grpcurl (Debian has none).

Reads every `grpcurl` command of the doc's ```sh blocks (backslash continuations and <<'EOF'
here-documents joined) and checks, against the API's descriptors (//proto:api_descriptor_set,
what reflection serves):
  * every flag is one of grpcurl's, and -unix goes with -plaintext (the servers' sockets are
    plaintext; their TCP listeners are TLS only, so TCP must not use -plaintext);
  * `list` / `describe` name a symbol that exists;
  * an RPC names an existing Service/Method, and its -d JSON (inline, or the here-document for
    `-d @`) parses into the method's request message with json_format (an unknown field, a
    wrong enum name or a malformed value fails);
  * every method of both services has at least one command.

  grpcurl_doc_test.py DOC DESCRIPTOR_SET
"""

import re
import shlex
import sys

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

SERVICES = ["onchainkms.orchestrator.v1.Orchestrator", "onchainkms.signer.v1.Signer"]
VALUE_FLAGS = {"-d", "-H", "-rpc-header", "-reflect-header", "-cacert", "-cert", "-key", "-servername",
               "-authority", "-max-time", "-connect-timeout", "-keepalive-time", "-max-msg-sz", "-format",
               "-user-agent"}
BOOL_FLAGS = {"-plaintext", "-unix", "-insecure", "-v", "-vv", "-emit-defaults", "-expand-headers",
              "-allow-unknown-fields", "-format-error", "-use-reflection"}


def commands(doc):
    """(line number, command text, here-document or None) of each grpcurl command in ```sh blocks."""
    out, in_sh, lines = [], False, doc.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            in_sh = not in_sh and line.strip() == "```sh"
            i += 1
            continue
        if not in_sh or not line.startswith("grpcurl"):
            i += 1
            continue
        start, text = i + 1, line
        while text.endswith("\\"):
            i += 1
            text = text[:-1] + " " + lines[i].strip()
        heredoc = None
        m = re.search(r"<<\s*'(\w+)'\s*$", text)
        if m:
            text, body = text[:m.start()], []
            i += 1
            while lines[i] != m.group(1):
                body.append(lines[i])
                i += 1
            heredoc = "\n".join(body)
        out.append((start, text, heredoc))
        i += 1
    return out


def load_pool(path):
    fds = descriptor_pb2.FileDescriptorSet()
    with open(path, "rb") as f:
        fds.ParseFromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for fd in fds.file:  # --include_imports writes dependencies first
        pool.Add(fd)
    return pool


def parse(words):
    """grpcurl's flags and positional arguments; raises ValueError on an unknown flag."""
    flags, args, i = {}, [], 0
    while i < len(words):
        w = words[i]
        if w in VALUE_FLAGS:
            flags.setdefault(w, []).append(words[i + 1])
            i += 2
        elif w in BOOL_FLAGS:
            flags[w] = True
            i += 1
        elif w.startswith("-"):
            raise ValueError(f"not a grpcurl flag: {w}")
        else:
            args.append(w)
            i += 1
    return flags, args


def find_symbol(pool, name):
    for find in (pool.FindServiceByName, pool.FindMessageTypeByName, pool.FindEnumTypeByName,
                 pool.FindMethodByName):
        try:
            return find(name)
        except KeyError:
            pass
    return None


def check(pool, text, heredoc, used):
    """The problem with one command, or None."""
    flags, args = parse(shlex.split(text)[1:])
    if flags.get("-unix") and not flags.get("-plaintext"):
        return "-unix without -plaintext (the sockets are plaintext)"
    if not flags.get("-unix") and flags.get("-plaintext"):
        return "-plaintext over TCP (the TCP listeners are TLS only)"
    if len(args) < 2:
        return "no address and verb/method"
    verb, rest = args[1], args[2:]
    if verb in ("list", "describe"):
        if rest and find_symbol(pool, rest[0]) is None:
            return f"{verb}: no symbol {rest[0]}"
        return None
    service_name, _, method_name = verb.rpartition("/")
    try:
        method = pool.FindServiceByName(service_name).FindMethodByName(method_name)
    except KeyError:
        method = None
    if method is None:
        return f"no method {verb}"
    used.add(method.full_name)
    data = flags.get("-d", ["{}"])[-1]
    if data == "@":
        if heredoc is None:
            return "-d @ without a here-document"
        data = heredoc
    request = message_factory.MessageFactory(pool).GetPrototype(method.input_type)()
    try:
        json_format.Parse(data, request)
    except json_format.ParseError as e:
        return f"-d does not parse as {method.input_type.full_name}: {e}"
    return None


def main(doc_path, descriptor_set):
    pool = load_pool(descriptor_set)
    with open(doc_path, encoding="utf-8") as f:
        found = commands(f.read())
    problems, used = [], set()
    for line, text, heredoc in found:
        try:
            problem = check(pool, text, heredoc, used)
        except ValueError as e:
            problem = str(e)
        if problem:
            problems.append(f"{doc_path}:{line}: {problem}")
    for name in SERVICES:
        for method in pool.FindServiceByName(name).methods:
            if method.full_name not in used:
                problems.append(f"{doc_path}: no command calls {name}/{method.name}")
    for p in problems:
        print(p, file=sys.stderr)
    print(f"grpcurl_doc_test: {len(found)} commands, {len(used)} methods, {len(problems)} problems")
    return 1 if problems or not found else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
