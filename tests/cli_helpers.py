"""Running the ``ha-toolkit`` command in-process, shared by the CLI tests."""

import json

from ha_toolkit.cli import main


def run(capsys, *argv):
    """Exit status, stdout and stderr of ``ha-toolkit ARGV``."""
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_json(capsys, *argv):
    """The one JSON object ``ha-toolkit ARGV --json`` prints, after checking it succeeded."""
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    assert err == ""
    return json.loads(out)


def assert_usage_error(capsys, *argv, match=None):
    """Check the contract for bad input: one line on stderr, nothing on stdout, status 2."""
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("ha-toolkit: error: ")
    if match is not None:
        assert match in lines[0]
    return lines[0]


ENVELOPE = ("inputs", "version")


def answer(obj):
    """The answer of a ``--json`` object: everything but its ``inputs`` and ``version``."""
    assert list(obj)[-2:] == list(ENVELOPE), list(obj)
    return {key: value for key, value in obj.items() if key not in ENVELOPE}
