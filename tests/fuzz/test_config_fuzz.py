"""A malformed crosspost.toml or a bad CROSSPOST_* variable: one line naming it, nothing changed.

The TOML cases are the workspace's own valid file, mutated by hypothesis (a slice cut out, text
inserted, a line repeated, a value replaced by one of the wrong type or range). A mutation may
leave the file valid: then the command simply works. What is never allowed is a traceback, more
than one line, or a change in the database.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import Fuzzbed, Outcome

EXAMPLES = int(os.environ.get("CROSSPOST_FUZZ_EXAMPLES", "6")) * 5
DERANDOMIZE = os.environ.get("CROSSPOST_FUZZ_RANDOM") != "1"
READ_ONLY = [["articles", "list"], ["sources", "list"], ["audit", "verify"], ["schedule", "list"]]
WRONG_VALUES = [
    '"text"', "-1", "0", "true", "[1, 2]", "{ a = 1 }", "1e999", "nan", "inf", '"Mars/Olympus"',
    "2026-13-01", '"\\u0000"', '""', '"' + "x" * 5000 + '"', '"sqlite:////nonexistent/dir/x.db"',
    '"Asia"',
]  # fmt: skip
URL_VALUES = [
    '"postgresql+psycopg://u:CANARY-PW@127.0.0.1:1/x"', '"redis://:CANARY-PW@127.0.0.1:1/0"',
    '"mysql://u:CANARY-PW@127.0.0.1:1/x"', '"sqlite:////nonexistent/dir/x.db"',
]  # fmt: skip
"""Passwords are only ever in URL settings: there, an error must not repeat them."""


def assert_one_line_or_success(result: Outcome, context: object) -> None:
    assert "Traceback" not in result.err, (context, result.err[-1500:])
    assert "CANARY-PW" not in result.out + result.err, context
    if result.code == 0:
        return
    assert result.code == 1, (context, result.code, result.err[:500])
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, (context, result.err[:1000])
    assert lines[0].startswith("error: "), (context, lines[0][:300])


def _valid_text(bed: Fuzzbed) -> str:
    lines = bed.config.read_text(encoding="utf-8").splitlines()
    return "\n".join(line for line in lines if line.strip() and not line.startswith("#")) + "\n"


@st.composite
def mutated(draw: st.DrawFn, text: str) -> str:
    for _ in range(draw(st.integers(1, 3), label="mutations")):
        kind = draw(st.sampled_from(["cut", "insert", "repeat", "value"]), label="kind")
        lines = text.splitlines(keepends=True)
        if kind == "cut":
            start = draw(st.integers(0, len(text) - 1))
            text = text[:start] + text[start + draw(st.integers(1, 40)) :]
        elif kind == "insert":
            at = draw(st.integers(0, len(text)))
            noise = draw(
                st.text(alphabet=st.sampled_from("[]=\"'.,#\n\\ x1{}\x00\u202e"), max_size=8)
            )
            text = text[:at] + noise + text[at:]
        elif kind == "repeat":
            line = draw(st.sampled_from(lines))
            text += line
        else:
            keyed = [i for i, line in enumerate(lines) if "=" in line]
            index = draw(st.sampled_from(keyed))
            key = lines[index].split("=", 1)[0]
            values = WRONG_VALUES + URL_VALUES if key.strip() == "url" else WRONG_VALUES
            lines[index] = f"{key}= {draw(st.sampled_from(values))}\n"
            text = "".join(lines)
    return text


def test_a_mutated_configuration_is_one_line_or_works(fuzzbed: Fuzzbed) -> None:
    valid = _valid_text(fuzzbed)
    target = fuzzbed.config.with_name("mutated.toml")  # same folder: same database

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=DERANDOMIZE, database=None)
    @given(text=mutated(valid), command=st.sampled_from(READ_ONLY))
    def check(text: str, command: list[str]) -> None:
        target.write_text(text, encoding="utf-8", errors="surrogatepass")
        before = fuzzbed.state()
        result = fuzzbed.run(*command, config=target)
        assert fuzzbed.state() == before
        assert_one_line_or_success(result, (command, text))

    check()


@pytest.mark.parametrize(
    "content",
    [b"\xff\xfe\x00binary", b"[database\nurl = ", b"= 1", b"[[display]]\ntimezone = 1", b""],
    ids=["not-utf8", "unclosed-table", "no-key", "array-of-tables", "empty"],
)
def test_a_broken_configuration_file_is_one_line(fuzzbed: Fuzzbed, content: bytes) -> None:
    target = fuzzbed.config.with_name("broken.toml")
    target.write_bytes(content)
    before = fuzzbed.state()
    result = fuzzbed.run("articles", "list", config=target)
    assert fuzzbed.state() == before
    assert_one_line_or_success(result, content)
    if content:
        assert result.code == 1
        assert "broken.toml" in result.err


BAD_ENV = [
    ("CROSSPOST_DATABASE_URL", "nonsense"),
    ("CROSSPOST_DATABASE_URL", "sqlite:////nonexistent/dir/crosspost.db"),
    ("CROSSPOST_DATABASE_URL", "postgresql+psycopg://u:CANARY-PW@127.0.0.1:1/crosspost"),
    ("CROSSPOST_DATABASE_URL", "mysql://u:CANARY-PW@127.0.0.1:1/x"),
    ("CROSSPOST_DATABASE_URL", "sqlite://"),
    ("CROSSPOST_TIMEZONE", "Mars/Olympus"),
    ("CROSSPOST_TIMEZONE", "../../../../etc/localtime"),
    ("CROSSPOST_TIMEZONE", "UTC\u202e"),
    ("CROSSPOST_TIMEZONE", "Asia"),
    ("CROSSPOST_TIMEZONE", "z" * 300),
    ("CROSSPOST_CONFIG", "/nonexistent/dir/crosspost.toml"),
    ("CROSSPOST_CONFIG", "/"),
    ("CROSSPOST_CONFIG", "/dev/null"),
]


@pytest.mark.parametrize(("var", "value"), BAD_ENV, ids=lambda v: str(v)[:40])
def test_a_bad_environment_value_is_one_line(
    fuzzbed: Fuzzbed, monkeypatch: pytest.MonkeyPatch, var: str, value: str
) -> None:
    monkeypatch.setenv(var, value)
    before = fuzzbed.state()
    # CROSSPOST_CONFIG only counts without --config: run as a user who relies on it.
    args = ["articles", "list"]
    result = fuzzbed.run_plain(*args) if var == "CROSSPOST_CONFIG" else fuzzbed.run(*args)
    assert fuzzbed.state() == before
    assert_one_line_or_success(result, (var, value))
    assert result.code == 1


@pytest.mark.parametrize("value", ["", "x" * 10_000, "\u202eadmin", "  ", "\n\t"])
def test_any_user_name_is_recorded_or_refused_in_one_line(
    fuzzbed: Fuzzbed, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    # The decision is refused (article 999999 does not exist): whoever asks, nothing changes.
    monkeypatch.setenv("CROSSPOST_USER", value)
    before = fuzzbed.state()
    result = fuzzbed.run("articles", "approve", "999999")
    assert fuzzbed.state() == before
    assert_one_line_or_success(result, value)
    assert result.code == 1


def test_a_worker_without_its_queue_is_one_line(
    fuzzbed: Fuzzbed, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The workspace's Redis is a closed port (see conftest). The worker exports its
    # configuration to its jobs through the environment: restored after the test.
    monkeypatch.delenv("CROSSPOST_CONFIG", raising=False)
    monkeypatch.setenv("CROSSPOST_REDIS_URL", "redis://:CANARY-PW@127.0.0.1:1/0")
    before = fuzzbed.state()
    result = fuzzbed.run("worker", "--burst")
    assert fuzzbed.state() == before
    assert_one_line_or_success(result, "worker --burst")
    assert result.code == 1
    assert "is not reachable" in result.err
