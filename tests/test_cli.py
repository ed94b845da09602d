"""The command line's own shell: Ctrl-C anywhere and warnings reach the user as one line."""

from __future__ import annotations

import warnings

from advrecon import cli


def test_ctrl_c_while_building_the_parser_exits_130_without_traceback(monkeypatch, capsys):
    def slow_import():  # Ctrl-C while torch and the command modules are still importing
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", slow_import)
    assert cli.main(["run", "x.yaml"]) == 130
    err = capsys.readouterr().err
    assert err.strip() == "advrecon: interrupted" and "Traceback" not in err


def test_warnings_are_one_line_during_a_command_and_restored_after(monkeypatch):
    seen = {}

    def command(argv):
        seen["text"] = warnings.formatwarning("box dropped", UserWarning, "/x/annotations.py", 7)
        return 0

    before = warnings.formatwarning
    monkeypatch.setattr(cli, "_main", command)
    assert cli.main([]) == 0
    assert seen["text"] == "advrecon: warning: box dropped\n"
    assert warnings.formatwarning is before
