"""Every command, fed one wrong value among right ones: one line, a non-zero exit, no change.

"No change" is the fingerprint of every row of every table (the audit log and its head
included) and the listing of the working directory, before and after each run. A read-only
command may succeed on a fuzzed filter; any other success fails the test with the invocation.
Examples are few per command and derandomised, so CI is repeatable; to explore further:
CROSSPOST_FUZZ_EXAMPLES=200 CROSSPOST_FUZZ_RANDOM=1 pytest tests/fuzz
"""

from __future__ import annotations

import os

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tests.fuzz.commands import (
    FREE_TEXT,
    NOT_RUN,
    READ_ONLY,
    Command,
    commands,
    hostile,
    plausible,
)
from tests.fuzz.conftest import Fuzzbed, Outcome

EXAMPLES = int(os.environ.get("CROSSPOST_FUZZ_EXAMPLES", "6"))
# CI replays the same examples; CROSSPOST_FUZZ_RANDOM=1 draws new ones on every run.
DERANDOMIZE = os.environ.get("CROSSPOST_FUZZ_RANDOM") != "1"
ALL = commands()
# Commands with no parameter that can be wrong (only flags and free text) get the usage test only.
FUZZED = [
    c
    for c in ALL
    if c.path not in NOT_RUN and any(not p.flag and p.kind != "free" for p in c.params)
]


KNOWN_UNFIXED: dict[str, str] = {}


def assert_refused_cleanly(result: Outcome, argv: list[str]) -> None:
    assert "Traceback" not in result.err, (argv, result.err[-2000:])
    assert result.code in (1, 2), (argv, result.code, result.out[-500:], result.err[-500:])
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, (argv, result.err[:1000])
    assert lines[0].startswith("error: "), (argv, lines[0][:300])


def test_every_command_is_fuzzed_or_excluded_with_a_reason() -> None:
    paths = {c.path for c in ALL}
    assert set(NOT_RUN) <= paths, "an excluded command no longer exists"
    assert paths >= READ_ONLY, "a read-only command no longer exists"
    assert len(ALL) >= 25


@pytest.mark.parametrize("command", [c for c in ALL if c.path not in NOT_RUN], ids=lambda c: c.path)
def test_an_unknown_option_or_extra_argument_is_a_usage_error(
    command: Command, fuzzbed: Fuzzbed
) -> None:
    before = fuzzbed.state()
    for extra in (["--no-such-option"], ["--no-such-option=1"], ["extra", "args", "here"]):
        argv = [*command.path.split(), *_required(command), *extra]
        result = fuzzbed.run(*argv)
        assert_refused_cleanly(result, argv)
        assert result.code == 2, argv
    assert fuzzbed.state() == before


@pytest.mark.parametrize("command", FUZZED, ids=lambda c: c.path)
def test_one_wrong_value_is_one_line_and_changes_nothing(
    command: Command, fuzzbed: Fuzzbed
) -> None:
    targets = [p for p in command.params if not p.flag and p.kind != "free"]

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=DERANDOMIZE, database=None)
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        target = data.draw(st.sampled_from(targets), label="wrong parameter")
        argv = command.path.split()
        options: list[str] = []
        for param in command.params:
            if param is target:
                value = data.draw(hostile(param.kind), label=param.name)
            elif param.flag:
                if data.draw(st.booleans(), label=param.name) and param.opt:
                    options.append(param.opt)
                continue
            elif param.kind == "path" and not param.required:
                continue  # a right --output is a file legitimately written: only wrong ones
            elif param.required or data.draw(st.booleans(), label=f"with {param.name}"):
                value = (
                    data.draw(FREE_TEXT, label=param.name)
                    if param.kind == "free"
                    else plausible(command.path, param)
                )
            else:
                continue
            if param.opt is None:
                # A batch: a right id alongside the wrong one must not be half-applied.
                argv += ["1", value] if param.multiple and param is target else [value]
            else:
                options.append(f"{param.opt}={value}")
        argv += options
        before = fuzzbed.state()
        try:
            result = fuzzbed.run(*argv)
        except OverflowError:
            # Only a known, reported gap may raise; the test below pins it down.
            assume(command.path not in KNOWN_UNFIXED)
            raise
        assert fuzzbed.state() == before, (argv, result.code, result.err[:500])
        if result.code == 0:
            assert command.path in READ_ONLY, (argv, "succeeded", result.out[:300])
            return
        assert_refused_cleanly(result, argv)

    check()


def _required(command: Command) -> list[str]:
    return [plausible(command.path, p) for p in command.params if p.opt is None and p.required]


ID_PARAMS = [
    pytest.param(command, param.name, id=f"{command.path}:{param.name}")
    for command in ALL
    if command.path not in NOT_RUN
    for param in command.params
    if param.kind == "id"
]


@pytest.mark.parametrize(("command", "name"), ID_PARAMS)
@pytest.mark.parametrize("number", ["2147483648", "99999999999999999999999"])
def test_an_id_beyond_the_database_range_is_refused_cleanly(
    command: Command, name: str, number: str, fuzzbed: Fuzzbed
) -> None:
    argv = command.path.split()
    for param in command.params:
        if param.name == name:
            argv += [number] if param.opt is None else [f"{param.opt}={number}"]
        elif param.required:
            argv += (
                [plausible(command.path, param)]
                if param.opt is None
                else [f"{param.opt}={plausible(command.path, param)}"]
            )
    before = fuzzbed.state()
    try:
        result = fuzzbed.run(*argv)
    except Exception:
        if command.path in KNOWN_UNFIXED:
            pytest.xfail(KNOWN_UNFIXED[command.path])
        raise
    assert fuzzbed.state() == before
    assert_refused_cleanly(result, argv)
