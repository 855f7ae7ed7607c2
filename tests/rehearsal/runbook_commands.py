"""The `docker` commands of the runbooks (runbooks/**/*.md): where each is written, the
containers it names and whether the rehearsal may run its shell line against a live stack.

Where commands are found: in fenced code blocks of shell (no info string, or sh, bash, shell,
zsh; a line continued by a trailing backslash is one line) and in inline code spans (which may
wrap onto the next line of their paragraph). A `docker` command is found wherever bash would run
it on the line: at the start, after `|`, `||`, `&&`, `;`, `&` or `(`, inside `$(...)` or
backquotes (double-quoted too), after `NAME=value` assignments, a keyword (`do`, `then`, `!`...)
or a program that runs a command (`sudo`, `time`, `timeout`, `xargs`, `watch`). Compound
commands that span several lines (a `for` loop over three lines) are not followed: the runbooks
write one command per line.

`containers` are the container arguments, unquoted, with `$PREFIX` and `${PREFIX}` replaced by
the prefix given to docker_commands (the stack's learnbot:namePrefix); an argument made by the
shell (`"$c"`, `$(docker ps -q)`) is kept as written.

`read_only` holds when the rehearsal may run `shell_line` as it is written, with bash and PREFIX
set, and expect the docker command to succeed without changing anything:

- every docker command on the line only reads: ps, logs (without --follow, which never ends),
  inspect, stats --no-stream, top, port, diff, images, version, info, or exec (without -t,
  which needs a terminal, or -d) of a program that only reads, below;
- every other program on the line filters their output: grep, egrep, fgrep, tail, head, jq,
  sort, uniq, wc, cut, tr, cat, echo. A program run on the Docker host against the stack
  (psql, curl) is not read-only: the stack's addresses resolve on its network only;
- nothing is written to a file (`2>&1` and `/dev/null` are fine);
- the line needs no value but PREFIX: no other variable of the operator's shell
  (`"$BACKUP_FILE"`) and no `<placeholder>`; `placeholders` lists what it needs.

The programs that only read, run in a container: pg_isready, printenv, df, du, ls, cat, date,
id, uname, hostname, echo, true; `learnbot backup list`; `learnbot backup verify` without
--restore-drill (the drill restores into a scratch database it creates); wget writing a GET's
answer to standard output (`wget -qO- URL`); `sh -c` or `bash -c` with a script of these
(its variables are the container's); and psql with `-c` statements that only read. A statement
only reads when it is one statement (per -c) starting with SELECT, SHOW, TABLE, VALUES, or WITH,
names no statement that writes (INSERT, UPDATE, DELETE, MERGE, CREATE, DROP, ALTER, TRUNCATE,
COPY, GRANT, REVOKE), has no INTO and no FOR UPDATE/SHARE, and calls none of the functions that
act (pg_cancel_backend, pg_terminate_backend, pg_reload_conf, set_config, nextval, setval,
advisory locks, ...): `SELECT pg_terminate_backend(pid)` is a SELECT that ends sessions. psql
without -c (a session), or with a file to run or write, does not only read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PREFIX = "learnbot"
PREFIX_VARIABLE = "PREFIX"

SHELL_FENCES = {"", "sh", "bash", "shell", "zsh"}
FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*([^`\s]*)")
PLACEHOLDER = re.compile(r"<[A-Za-z][\w.:/ -]*>")
REDIRECT = re.compile(r"\d*(?:&>>|&>|>>|>&|>\||<<<|<<|<&|<>|>|<)")
OPERATORS = ("&&", "||", ";;", "|&", "|", ";", "&")
NAME = re.compile(r"[A-Za-z_]\w*")
ASSIGNMENT = re.compile(r"[A-Za-z_]\w*=")

# Words before a command that bash runs the command after.
KEYWORDS = {"do", "then", "else", "elif", "if", "while", "until", "!", "{", "exec", "command"}
# Programs that run a command given after their options: the options that take a value, and
# how many arguments come before the command.
WRAPPERS: dict[str, tuple[frozenset[str], int]] = {
    "sudo": (frozenset({"-u", "-g", "-h", "-p", "-C", "-D", "-r", "-t", "-U"}), 0),
    "time": (frozenset(), 0),
    "nohup": (frozenset(), 0),
    "nice": (frozenset({"-n"}), 0),
    "xargs": (frozenset({"-n", "-I", "-L", "-P", "-d", "-s", "-a", "-E"}), 0),
    "watch": (frozenset({"-n", "--interval"}), 0),
    "timeout": (frozenset({"-s", "--signal", "-k", "--kill-after"}), 1),
}

DOCKER_GLOBAL_VALUE_OPTIONS = {
    "-c",
    "--context",
    "-H",
    "--host",
    "--config",
    "-l",
    "--log-level",
    "--tlscacert",
    "--tlscert",
    "--tlskey",
}
DOCKER_GROUPS = {
    "image",
    "volume",
    "network",
    "system",
    "compose",
    "context",
    "builder",
    "buildx",
    "plugin",
    "secret",
    "config",
    "service",
    "stack",
    "swarm",
    "node",
    "trust",
    "manifest",
}
CONTAINER_GROUP_ALIASES = {"ls": "ps", "list": "ps"}

# Which positional arguments of a subcommand are containers.
NONE, FIRST, ALL, EXEC, COPY = "none", "first", "all", "exec", "copy"
# subcommand: (its options that take a value, which arguments are containers)
DOCKER_SUBCOMMANDS: dict[str, tuple[frozenset[str], str]] = {
    "ps": (frozenset({"-f", "--filter", "--format", "-n", "--last"}), NONE),
    "images": (frozenset({"-f", "--filter", "--format"}), NONE),
    "version": (frozenset({"-f", "--format"}), NONE),
    "info": (frozenset({"-f", "--format"}), NONE),
    "logs": (frozenset({"--since", "--until", "-n", "--tail"}), FIRST),
    "inspect": (frozenset({"-f", "--format", "--type"}), ALL),
    "stats": (frozenset({"--format"}), ALL),
    "top": (frozenset(), FIRST),
    "port": (frozenset(), FIRST),
    "diff": (frozenset(), FIRST),
    "exec": (
        frozenset(
            {"-e", "--env", "--env-file", "-u", "--user", "-w", "--workdir", "--detach-keys"}
        ),
        EXEC,
    ),
    "attach": (frozenset({"--detach-keys"}), FIRST),
    "start": (frozenset({"--detach-keys", "--checkpoint", "--checkpoint-dir"}), ALL),
    "stop": (frozenset({"-t", "--time", "-s", "--signal"}), ALL),
    "restart": (frozenset({"-t", "--time", "-s", "--signal"}), ALL),
    "kill": (frozenset({"-s", "--signal"}), ALL),
    "rm": (frozenset(), ALL),
    "pause": (frozenset(), ALL),
    "unpause": (frozenset(), ALL),
    "wait": (frozenset(), ALL),
    "rename": (frozenset(), FIRST),
    "cp": (frozenset(), COPY),
}
READ_ONLY_SUBCOMMANDS = {
    "ps",
    "images",
    "version",
    "info",
    "logs",
    "inspect",
    "stats",
    "top",
    "port",
    "diff",
}

HOST_FILTERS = {
    "grep",
    "egrep",
    "fgrep",
    "tail",
    "head",
    "jq",
    "sort",
    "uniq",
    "wc",
    "cut",
    "tr",
    "cat",
    "echo",
}
# Compound commands' own words: they run nothing by themselves.
SHELL_SYNTAX = {"for", "done", "fi", "}", "esac"}
CONTAINER_READERS = {
    "pg_isready",
    "printenv",
    "df",
    "du",
    "ls",
    "cat",
    "date",
    "id",
    "uname",
    "hostname",
    "echo",
    "true",
}

SQL_READS = re.compile(r"\s*(?:SELECT|SHOW|TABLE|VALUES|WITH)\b", re.IGNORECASE)
SQL_WRITES = re.compile(
    r"\b(?:INSERT|UPDATE|DELETE|MERGE|CREATE|DROP|ALTER|TRUNCATE|COPY|GRANT|REVOKE|INTO)\b"
    r"|\bFOR\s+(?:NO\s+KEY\s+)?(?:UPDATE|SHARE|KEY\s+SHARE)\b",
    re.IGNORECASE,
)
SQL_ACTING_FUNCTIONS = re.compile(
    r"\b(?:pg_cancel_backend|pg_terminate_backend|pg_reload_conf|pg_rotate_logfile|pg_switch_wal"
    r"|pg_promote|pg_create_restore_point|pg_wal_replay_pause|pg_wal_replay_resume"
    r"|pg_create_\w*replication_slot|pg_drop_replication_slot|pg_stat_reset\w*|set_config"
    r"|nextval|setval|pg_(?:try_)?advisory\w*|lo_\w+|dblink\w*)\s*\(",
    re.IGNORECASE,
)

# What `docker logs --since` and `--until` take: a Go duration, a Unix time or an RFC 3339 time.
GO_DURATION = re.compile(r"(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+|0")
UNIX_TIME = re.compile(r"\d+(?:\.\d+)?")
RFC3339_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?"
)


def is_docker_time(value: str) -> bool:
    """Whether `docker logs --since`/`--until` accepts the value: a duration in Go's syntax
    ("30m", "26h"; no "d"), a Unix time or an RFC 3339 date or time."""
    return any(pattern.fullmatch(value) for pattern in (GO_DURATION, UNIX_TIME, RFC3339_TIME))


@dataclass(frozen=True, slots=True)
class RunbookCommand:
    """One `docker` command written in a runbook."""

    path: Path
    # The line of the markdown file its shell line starts on, from 1.
    line: int
    # The whole shell line it is on, as written: what the rehearsal runs with bash.
    shell_line: str
    # The command's words from `docker` on: unquoted, $PREFIX replaced.
    words: tuple[str, ...]
    # "logs", "exec", ... (`docker container logs` is "logs", `docker volume ls` "volume ls");
    # None for `docker` alone or with only options.
    subcommand: str | None
    containers: tuple[str, ...]
    # The container arguments as written: `"$PREFIX-api-1"`.
    containers_as_written: tuple[str, ...]
    # For exec: the program and its arguments, run in the container.
    program: tuple[str, ...]
    read_only: bool
    # What the line needs besides PREFIX: variables ("$BACKUP_FILE") and "<placeholders>".
    placeholders: tuple[str, ...]
    # Why it is not read_only; empty when it is.
    reason: str

    @property
    def container(self) -> str | None:
        """The (first) container it names; None for a command that names none (`docker ps`)."""
        return self.containers[0] if self.containers else None

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.shell_line}"


def docker_commands(root: Path, prefix: str = DEFAULT_PREFIX) -> list[RunbookCommand]:
    """Every docker command in the markdown files under root, file by file, in reading order."""
    return [
        command
        for path in sorted(root.rglob("*.md"))
        for command in markdown_docker_commands(path.read_text(encoding="utf-8"), path, prefix)
    ]


def markdown_docker_commands(
    text: str, path: Path = Path("<markdown>"), prefix: str = DEFAULT_PREFIX
) -> list[RunbookCommand]:
    """The docker commands of one markdown text, in reading order."""
    return [
        command
        for line_number, shell_line in shell_lines(text)
        for command in line_docker_commands(shell_line, prefix, path=path, line=line_number)
    ]


def shell_lines(text: str) -> list[tuple[int, str]]:
    """Every shell line of the markdown that may hold a docker command, with the number of the
    line it starts on: the lines of shell fences and the inline code spans."""
    found: list[tuple[int, str]] = []
    lines = text.splitlines()
    paragraph: list[tuple[int, str]] = []
    index = 0
    while index < len(lines):
        fence = FENCE.match(lines[index])
        if fence is None:
            if lines[index].strip():
                paragraph.append((index + 1, lines[index]))
            else:
                found += _code_spans(paragraph)
                paragraph = []
            index += 1
            continue
        found += _code_spans(paragraph)
        paragraph = []
        marker, info = fence.group(1), fence.group(2).lower()
        closing = re.compile(rf"^\s*{re.escape(marker[0])}{{{len(marker)},}}\s*$")
        body_start = index + 1
        index = body_start
        while index < len(lines) and not closing.match(lines[index]):
            index += 1
        if info in SHELL_FENCES:
            found += _fenced_lines(lines[body_start:index], body_start + 1)
        index += 1
    found += _code_spans(paragraph)
    return [(number, line) for number, line in found if re.search(r"\bdocker\b", line)]


def _fenced_lines(body: list[str], first_line: int) -> list[tuple[int, str]]:
    """A fence's lines, a line ending in a backslash joined with the next."""
    joined: list[tuple[int, str]] = []
    current: list[str] = []
    start = first_line
    for offset, line in enumerate(body):
        if not current:
            start = first_line + offset
        current.append(line)
        trailing = len(line) - len(line.rstrip("\\"))
        if trailing % 2 == 0:
            joined.append((start, "\n".join(current).strip()))
            current = []
    if current:
        joined.append((start, "\n".join(current).strip()))
    return [(number, line) for number, line in joined if line]


def _code_spans(paragraph: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """The inline code spans of a paragraph (CommonMark: a run of backticks up to the next run
    of the same length), each with the line it starts on."""
    if not paragraph:
        return []
    first_line = paragraph[0][0]
    text = "\n".join(line.strip() for _, line in paragraph)
    spans: list[tuple[int, str]] = []
    position = 0
    while position < len(text):
        char = text[position]
        if char == "\\":
            position += 2
            continue
        if char != "`":
            position += 1
            continue
        run = _run_length(text, position)
        search = position + run
        while True:
            close = text.find("`" * run, search)
            if close < 0:
                position += run
                break
            close_run = _run_length(text, close)
            if close_run == run:
                content = text[position + run : close].replace("\n", " ")
                if content.startswith(" ") and content.endswith(" ") and content.strip():
                    content = content[1:-1]
                spans.append((first_line + text.count("\n", 0, position), content.strip()))
                position = close + run
                break
            search = close + close_run
    return spans


def _run_length(text: str, position: int) -> int:
    end = position
    while end < len(text) and text[end] == "`":
        end += 1
    return end - position


@dataclass(frozen=True, slots=True)
class Word:
    """A shell word: as written, and its value with quotes removed and $PREFIX replaced."""

    text: str
    value: str
    # Variables the shell that runs the line expands in it (outside single quotes).
    variables: tuple[str, ...] = ()
    # Whether it holds a command substitution.
    substituted: bool = False

    @property
    def static(self) -> bool:
        return not self.variables and not self.substituted


@dataclass
class SimpleCommand:
    start: int
    words: list[Word] = field(default_factory=list)
    # (operator, target) of each redirection.
    redirects: list[tuple[str, str]] = field(default_factory=list)


class _Lexer:
    """Splits a shell line into its simple commands, those inside command substitutions
    included, as bash would (quotes, escapes, $VAR, ${VAR}, $(...), `...`, operators,
    redirections and comments); heredocs and arithmetic are not followed."""

    def __init__(self, text: str, prefix: str) -> None:
        self.text = text
        self.prefix = prefix
        self.position = 0
        self.commands: list[SimpleCommand] = []
        self.comments: list[tuple[int, int]] = []

    def parse(self) -> list[SimpleCommand]:
        self._parse_list(stop=None)
        return sorted(self.commands, key=lambda command: command.start)

    def code(self) -> str:
        """The line without its comments."""
        parts, last = [], 0
        for start, end in self.comments:
            parts.append(self.text[last:start])
            last = end
        parts.append(self.text[last:])
        return "".join(parts)

    def _parse_list(self, stop: str | None) -> None:
        text = self.text
        command = SimpleCommand(self.position)
        depth = 0
        while self.position < len(text):
            char = text[self.position]
            if stop is not None and char == stop and depth == 0:
                self.position += 1
                break
            if char in " \t":
                self.position += 1
            elif text.startswith("\\\n", self.position):
                self.position += 2
            elif char == "\n":
                command = self._finish(command)
                self.position += 1
            elif char == "#":
                end = text.find("\n", self.position)
                end = len(text) if end < 0 else end
                self.comments.append((self.position, end))
                self.position = end
            elif redirect := REDIRECT.match(text, self.position):
                self.position = redirect.end()
                while self.position < len(text) and text[self.position] in " \t":
                    self.position += 1
                target = self._word(stop)
                operator = redirect.group().lstrip("0123456789")
                command.redirects.append((operator, target.value))
            elif char in "();|&":
                command = self._finish(command)
                if char == "(":
                    depth += 1
                elif char == ")":
                    depth = max(depth - 1, 0)
                operator = next(
                    op for op in (*OPERATORS, char) if text.startswith(op, self.position)
                )
                self.position += len(operator)
            else:
                if not command.words:
                    command.start = self.position
                command.words.append(self._word(stop))
        self._finish(command)

    def _finish(self, command: SimpleCommand) -> SimpleCommand:
        if command.words or command.redirects:
            self.commands.append(command)
        return SimpleCommand(self.position)

    def _word(self, stop: str | None) -> Word:
        text = self.text
        start = self.position
        value: list[str] = []
        variables: list[str] = []
        substituted = False
        while self.position < len(text):
            char = text[self.position]
            if char in " \t\n();|&<>" or (stop == "`" and char == "`"):
                break
            if char == "\\":
                value.append(text[self.position + 1 : self.position + 2])
                self.position += 2
            elif char == "'":
                end = text.find("'", self.position + 1)
                end = len(text) if end < 0 else end
                value.append(text[self.position + 1 : end])
                self.position = end + 1
            elif char == '"':
                substituted |= self._double_quoted(value, variables)
            elif char == "$":
                substituted |= self._dollar(value, variables)
            elif char == "`":
                substituted = True
                value.append(self._backquoted())
            else:
                value.append(char)
                self.position += 1
        return Word(text[start : self.position], "".join(value), tuple(variables), substituted)

    def _double_quoted(self, value: list[str], variables: list[str]) -> bool:
        text = self.text
        substituted = False
        self.position += 1
        while self.position < len(text) and text[self.position] != '"':
            char = text[self.position]
            if char == "\\" and text[self.position + 1 : self.position + 2] in (
                '"',
                "\\",
                "$",
                "`",
            ):
                value.append(text[self.position + 1])
                self.position += 2
            elif char == "$":
                substituted |= self._dollar(value, variables)
            elif char == "`":
                substituted = True
                value.append(self._backquoted())
            else:
                value.append(char)
                self.position += 1
        self.position += 1
        return substituted

    def _dollar(self, value: list[str], variables: list[str]) -> bool:
        """$NAME, ${NAME...} or $(...) at the position; True for a command substitution."""
        text = self.text
        start = self.position
        if text.startswith("$((", start):
            end = text.find("))", start)
            self.position = len(text) if end < 0 else end + 2
            value.append(text[start : self.position])
            return False
        if text.startswith("$(", start):
            self.position += 2
            self._parse_list(stop=")")
            value.append(text[start : self.position])
            return True
        if text.startswith("${", start):
            end = text.find("}", start)
            self.position = len(text) if end < 0 else end + 1
            name = NAME.match(text, start + 2)
            if name is not None:
                self._variable(name.group(), text[start : self.position], value, variables)
            else:
                value.append(text[start : self.position])
            return False
        name = NAME.match(text, start + 1)
        if name is None:
            # $?, $1, a lone $: kept as written.
            self.position += 2 if start + 1 < len(text) and text[start + 1] not in " \t\n" else 1
            value.append(text[start : self.position])
            return False
        self.position = name.end()
        self._variable(name.group(), text[start : self.position], value, variables)
        return False

    def _variable(self, name: str, written: str, value: list[str], variables: list[str]) -> None:
        if name == PREFIX_VARIABLE and written in ("$PREFIX", "${PREFIX}"):
            value.append(self.prefix)
        else:
            value.append(written)
            variables.append(name)

    def _backquoted(self) -> str:
        start = self.position
        self.position += 1
        self._parse_list(stop="`")
        return self.text[start : self.position]


def line_docker_commands(
    shell_line: str, prefix: str = DEFAULT_PREFIX, *, path: Path = Path("<line>"), line: int = 1
) -> list[RunbookCommand]:
    """The docker commands of one shell line."""
    lexer = _Lexer(shell_line, prefix)
    commands = lexer.parse()
    programs = [_program_words(command.words) for command in commands]
    placeholders = _placeholders(lexer.code(), commands)
    problems = [
        problem
        for command, program in zip(commands, programs, strict=True)
        for problem in [_host_problem(program), _redirect_problem(command)]
        if problem
    ]
    if placeholders:
        problems.append("needs " + ", ".join(placeholders))
    calls = [
        _DockerCall.parse(program)
        for program in programs
        if len(program) > 1 and program[0].value == "docker"
    ]
    # `docker` alone, or with only options, is the tool's name in a sentence.
    calls = [call for call in calls if call.subcommand is not None]
    call_problems = [_docker_problem(call) for call in calls]
    found = []
    for call, problem in zip(calls, call_problems, strict=True):
        # Its own reason first, then those of the rest of the line, each once.
        reasons = [
            reason for reason in dict.fromkeys([problem, *call_problems, *problems]) if reason
        ]
        found.append(
            RunbookCommand(
                path=path,
                line=line,
                shell_line=shell_line,
                words=tuple(word.value for word in call.words),
                subcommand=call.subcommand,
                containers=tuple(word.value for word in call.containers),
                containers_as_written=tuple(word.text for word in call.containers),
                program=tuple(word.value for word in call.program),
                read_only=not reasons,
                placeholders=placeholders,
                reason="; ".join(reasons),
            )
        )
    return found


def _program_words(words: list[Word]) -> list[Word]:
    """The words from the program a simple command runs: past assignments, keywords and
    wrappers such as sudo or xargs."""
    index = 0
    while index < len(words):
        word = words[index].value
        if ASSIGNMENT.match(words[index].text) or word in KEYWORDS:
            index += 1
            continue
        wrapper = WRAPPERS.get(word)
        if wrapper is None:
            break
        value_options, positionals = wrapper
        index += 1
        while index < len(words) and words[index].value.startswith("-"):
            index += 2 if words[index].value in value_options else 1
        index += positionals
    return words[index:]


def _placeholders(code: str, commands: list[SimpleCommand]) -> tuple[str, ...]:
    """What the line needs from the operator's shell besides PREFIX."""
    assigned = {PREFIX_VARIABLE}
    for command in commands:
        words = [word.text for word in command.words]
        for word in words:
            if ASSIGNMENT.match(word):
                assigned.add(word.split("=", 1)[0])
        if len(words) > 1 and words[0] in ("for", "read"):
            assigned.add(words[1])
    needed = [
        f"${name}"
        for command in commands
        for word in command.words
        for name in word.variables
        if name not in assigned
    ]
    needed += PLACEHOLDER.findall(code)
    return tuple(dict.fromkeys(needed))


def _host_problem(program: list[Word]) -> str | None:
    if not program:
        return None
    name = program[0].value
    if name == "docker" or name in HOST_FILTERS or name in SHELL_SYNTAX:
        return None
    if name == "psql":
        return "psql runs on the Docker host, off the stack's network"
    return f"the line runs {name}"


def _redirect_problem(command: SimpleCommand) -> str | None:
    for operator, target in command.redirects:
        writes = operator not in ("<", "<&", "<<", "<<<")
        if writes and target != "/dev/null" and not (operator.endswith("&") and target.isdigit()):
            return f"the line writes to {target}"
    return None


@dataclass
class _DockerCall:
    words: list[Word]
    subcommand: str | None
    options: list[str]
    containers: list[Word]
    program: list[Word]

    @classmethod
    def parse(cls, words: list[Word]) -> _DockerCall:
        arguments = words[1:]
        index = 0
        while index < len(arguments) and arguments[index].value.startswith("-"):
            option = arguments[index].value
            index += 2 if option in DOCKER_GLOBAL_VALUE_OPTIONS else 1
        if index >= len(arguments):
            return cls(words, None, [], [], [])
        subcommand = arguments[index].value
        index += 1
        if subcommand == "container" and index < len(arguments):
            subcommand = arguments[index].value
            subcommand = CONTAINER_GROUP_ALIASES.get(subcommand, subcommand)
            index += 1
        elif subcommand in DOCKER_GROUPS and index < len(arguments):
            subcommand = f"{subcommand} {arguments[index].value}"
            index += 1
        value_options, kind = DOCKER_SUBCOMMANDS.get(subcommand, (frozenset(), NONE))
        options: list[str] = []
        positionals: list[Word] = []
        program: list[Word] = []
        while index < len(arguments):
            word = arguments[index]
            if kind == EXEC and positionals:
                program = arguments[index:]
                break
            if word.value == "--":
                positionals += arguments[index + 1 :]
                break
            if word.value.startswith("-") and word.value != "-":
                options.append(word.value)
                if word.value in value_options and index + 1 < len(arguments):
                    options.append(arguments[index + 1].value)
                    index += 1
            else:
                positionals.append(word)
            index += 1
        containers: list[Word]
        if kind in (FIRST, EXEC):
            containers = positionals[:1]
        elif kind == ALL:
            containers = positionals
        elif kind == COPY:
            containers = [
                Word(word.text.split(":", 1)[0], word.value.split(":", 1)[0], word.variables)
                for word in positionals
                if ":" in word.value
            ]
        else:
            containers = []
        return cls(words, subcommand, options, containers, program)

    def has_flag(self, long: str, short: str | None = None) -> bool:
        """Whether an option is given: --long, --long=..., or -x alone or among grouped flags."""
        for option in self.options:
            if option == long or option.startswith(long + "="):
                return True
            if short and re.fullmatch(r"-[A-Za-z]+", option) and short in option[1:]:
                return True
        return False


def _docker_problem(call: _DockerCall) -> str | None:
    subcommand = call.subcommand
    if subcommand == "exec":
        if call.has_flag("--tty", "t"):
            return "docker exec -t needs a terminal"
        if call.has_flag("--detach", "d"):
            return "docker exec -d runs in the background"
        return _container_program_problem([word.value for word in call.program])
    if subcommand not in READ_ONLY_SUBCOMMANDS:
        return f"docker {subcommand} changes the stack"
    if subcommand == "logs" and call.has_flag("--follow", "f"):
        return "docker logs --follow never ends"
    if subcommand == "stats" and not call.has_flag("--no-stream"):
        return "docker stats without --no-stream never ends"
    return None


def _container_program_problem(words: list[str]) -> str | None:
    """None when the program only reads; else why not."""
    if not words:
        return "docker exec without a program"
    name, arguments = words[0], words[1:]
    if name in CONTAINER_READERS:
        return None
    if name == "learnbot":
        if arguments[:2] == ["backup", "list"]:
            return None
        if arguments[:2] == ["backup", "verify"]:
            if "--restore-drill" not in arguments:
                return None
            return "learnbot backup verify --restore-drill creates a scratch database"
        if arguments[:1] == ["doctor"]:
            return "learnbot doctor only reads, but exits non-zero when it finds something wrong"
        return f"learnbot {' '.join(arguments[:2])} changes the stack"
    if name == "psql":
        return _psql_problem(arguments)
    if name == "wget":
        return _wget_problem(arguments)
    if name in ("sh", "bash") and len(arguments) >= 2 and arguments[0] == "-c":
        return _script_problem(arguments[1])
    return f"{name} in the container is not known to only read"


def _script_problem(script: str) -> str | None:
    """A `sh -c` script reads only when each of its commands does; its variables are the
    container's."""
    for command in _Lexer(script, DEFAULT_PREFIX).parse():
        program = [word.value for word in _program_words(command.words)]
        if not program or program[0] in SHELL_SYNTAX:
            continue
        problem = _redirect_problem(command)
        if program[0] in HOST_FILTERS - CONTAINER_READERS:
            continue
        problem = problem or _container_program_problem(program)
        if problem:
            return problem
    return None


def _psql_problem(arguments: list[str]) -> str | None:
    statements: list[str] = []
    index = 0
    while index < len(arguments):
        argument = arguments[index]
        if argument in ("-c", "--command") and index + 1 < len(arguments):
            statements.append(arguments[index + 1])
            index += 2
            continue
        if argument.startswith("--command="):
            statements.append(argument.split("=", 1)[1])
        elif argument in ("-f", "--file", "-o", "--output", "-L", "--log-file") or (
            argument.startswith(("--file=", "--output=", "--log-file="))
        ):
            return f"psql {argument} runs or writes a file"
        index += 1
    if not statements:
        return "psql without -c is a session"
    for sql in statements:
        problem = sql_problem(sql)
        if problem:
            return problem
    return None


def sql_problem(sql: str) -> str | None:
    """None when the statement only reads; else why not."""
    parts = [part for part in sql.split(";") if part.strip()]
    if len(parts) != 1:
        return f"not one statement: {sql!r}"
    if not SQL_READS.match(sql) or SQL_WRITES.search(sql) or SQL_ACTING_FUNCTIONS.search(sql):
        return f"SQL that does not only read: {sql!r}"
    return None


def _wget_problem(arguments: list[str]) -> str | None:
    to_stdout = any(
        re.fullmatch(r"-\w*O-", argument)
        or argument == "--output-document=-"
        or (re.fullmatch(r"-\w*O", argument) and following == "-")
        for argument, following in zip(arguments, [*arguments[1:], ""], strict=True)
    )
    sends = any(argument.startswith(("--post", "--method", "--body")) for argument in arguments)
    if not to_stdout or sends:
        return "wget other than a GET written to standard output"
    return None
