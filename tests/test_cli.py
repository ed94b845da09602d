"""The command line's own shell: Ctrl-C anywhere and warnings reach the user as one line."""

from __future__ import annotations

import warnings
from pathlib import Path

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


def _modules_after(code: str) -> set[str]:
    """Module names in ``sys.modules`` after running ``code`` in a fresh interpreter."""
    import json
    import os
    import subprocess
    import sys

    src = str(Path(cli.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_building_the_parser_imports_neither_torch_nor_the_data_stack():
    loaded = _modules_after("from advrecon import cli\ncli.build_parser()")
    assert "advrecon.cli" in loaded and "advrecon.training.commands" in loaded  # all registered
    assert not {"torch", "h5py", "pandas", "matplotlib", "scipy"} & loaded


def test_lazy_sub_command_gets_its_options_when_it_parses():
    args = cli.build_parser().parse_args(["data", "synth", "/tmp/out", "--coils", "3"])
    assert args.coils == 3 and str(args.out) == "/tmp/out" and args.func.__name__ == "_synth"
    args = cli.build_parser().parse_args(["data", "preview", "/tmp/d", "--max-slices", "2"])
    assert args.max_slices == 2 and args.func.__name__ == "_preview"


def test_packaged_configs_are_the_repository_configs_byte_for_byte():
    """``src/advrecon/configs`` ships in the wheel; ``configs/`` at the root is its copy for
    README users. Edit one, copy it to the other: this test fails until both agree."""
    repo = Path(cli.__file__).resolve().parents[2] / "configs"
    packaged = Path(cli.__file__).resolve().parent / "configs"
    names = sorted(p.name for p in packaged.glob("*.yaml"))
    assert names == sorted(p.name for p in repo.glob("*.yaml")) and "demo.yaml" in names
    for name in names:
        assert (packaged / name).read_bytes() == (repo / name).read_bytes(), name


def test_demo_finds_its_config_in_the_package():
    from advrecon.demo import default_config_path
    from advrecon.experiments.config import load_config

    path = default_config_path()
    assert path.is_file() and path.parent.parent == Path(cli.__file__).resolve().parent
    assert load_config(path, check_paths=False).name == "demo"
