from importlib.metadata import entry_points

import pytest

import kcover.cli


@pytest.fixture
def make_run(monkeypatch, capsys):
    """make_run(*names): kcover.cli.main with only those subcommands registered -> call(*argv) ->
    (exit code, stdout, stderr)."""

    def make(*names):
        ours = [e for e in entry_points(group="kcover.commands") if e.name in names]
        monkeypatch.setattr(kcover.cli, "entry_points", lambda group: ours)

        def call(*argv):
            code = kcover.cli.main([str(a) for a in argv])
            out = capsys.readouterr()
            return code, out.out, out.err

        return call

    return make
