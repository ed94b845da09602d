"""Reliability of a run folder: OS errors, locking, progress, signals, NaN rows, rank files.

Read-only folders are simulated with an audit hook (tests may run as root, where ``chmod`` does
not stop writes); a full disk with a patched ``os.write`` / ``os.fsync`` that raises ENOSPC.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import test_experiments_fakes as fakes  # noqa: E402

from advrecon import cli  # noqa: E402
from advrecon.errors import (  # noqa: E402
    NonFiniteResultError,
    RunFolderBusyError,
    RunInterrupted,
    StorageError,
)
from advrecon.experiments import progress  # noqa: E402
from advrecon.experiments.config import parse_config  # noqa: E402
from advrecon.experiments.distributed import watch_launcher  # noqa: E402, F401
from advrecon.experiments.results_store import StoreWarning, TidyTable  # noqa: E402
from advrecon.experiments.run_lock import RunLock  # noqa: E402
from advrecon.experiments.runner import run_experiment  # noqa: E402

FAKES = Path(fakes.__file__)
TOTAL = 112  # units of the tiny experiment


def _run(cfg, executor=fakes.fake_executor, **kw):
    return run_experiment(
        cfg,
        executor=executor,
        source=fakes.FakeSource(),
        model_loader=fakes.fake_loader,
        progress=False,
        **kw,
    )


def _cfg(path: Path):
    return parse_config(fakes.tiny_config_dict(str(path)))


def _manifest(run_dir: Path) -> dict:
    return json.loads((run_dir / "manifest.json").read_text())


def _leftovers(run_dir: Path) -> list[str]:
    """Temporary files anywhere in the run folder."""
    return [str(p) for p in run_dir.rglob("*") if p.name.endswith(".tmp")]


# ------------------------------------------------------------------ simulated file system faults
_READ_ONLY: set[str] = set()
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_MUTATING = {"os.replace", "os.rename", "os.remove", "os.mkdir", "os.rmdir", "os.truncate"}


def _audit(event: str, args: tuple) -> None:
    if not _READ_ONLY:
        return
    if event == "open" and isinstance(args[0], (str, Path)) and args[2] & _WRITE_FLAGS:
        paths = [args[0]]
    elif event in _MUTATING:
        paths = [a for a in args[:2] if isinstance(a, (str, Path))]
    else:
        return
    for p in paths:
        if any(os.path.abspath(p).startswith(root) for root in _READ_ONLY):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(p))


sys.addaudithook(_audit)


@pytest.fixture
def read_only():
    """``read_only(folder)``: writes inside ``folder`` fail with EROFS until the test ends."""
    yield lambda folder: _READ_ONLY.add(os.path.abspath(folder))
    _READ_ONLY.clear()


def _fd_name(fd: int) -> str:
    return os.readlink(f"/proc/self/fd/{fd}")


def _disk_full(monkeypatch, pattern: str) -> None:
    """Writes to files whose name contains ``pattern`` fail with ENOSPC (after half the data)."""
    real_write, real_fsync = os.write, os.fsync

    def write(fd, data):
        if pattern in _fd_name(fd):
            real_write(fd, bytes(data[: len(data) // 2]))  # a torn write, then the error
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    def fsync(fd):
        if pattern in _fd_name(fd):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)

    monkeypatch.setattr(os, "write", write)
    monkeypatch.setattr(os, "fsync", fsync)


# ------------------------------------------------------------------ OS errors on every write path
@pytest.mark.parametrize(
    ("pattern", "what"),
    [("results.csv", "results"), (".npz", "arrays"), ("rotation_curves", "rotation curves")],
)
def test_full_disk_gives_one_error_and_keeps_data(tmp_path, monkeypatch, pattern, what):
    cfg = _cfg(tmp_path)
    _run(cfg, max_units=20)
    run_dir = cfg.run_dir()
    before = (run_dir / "results.csv").read_bytes()
    _disk_full(monkeypatch, pattern)
    with pytest.raises(StorageError, match=f"cannot write {what} to .*: No space left on device"):
        _run(cfg)
    monkeypatch.undo()
    after = (run_dir / "results.csv").read_bytes()
    assert after.startswith(before) and after.endswith(b"\n")  # no torn row, nothing lost
    assert not _leftovers(run_dir)
    manifest = _manifest(run_dir)
    assert manifest["status"] == "failed" and "No space left" in manifest["error"]
    assert _run(cfg).complete  # and the run resumes once there is space again


def test_failed_start_leaves_no_new_run_folder(tmp_path, monkeypatch):
    out = tmp_path / "runs"
    _disk_full(monkeypatch, "manifest.json")
    with pytest.raises(StorageError, match="cannot write manifest.json to"):
        _run(_cfg(out))
    assert not out.exists()


def test_read_only_folder_is_one_clear_error(tmp_path, read_only):
    cfg = _cfg(tmp_path)
    _run(cfg, max_units=10)
    read_only(cfg.run_dir())
    with pytest.raises(StorageError, match=f"cannot lock run folder {cfg.run_dir()}: Read-only"):
        _run(cfg)


def test_finished_run_reopens_in_a_read_only_folder_without_rewriting(tmp_path, read_only):
    cfg = _cfg(tmp_path)
    _run(cfg)
    results = cfg.run_dir() / "results.csv"
    stat = results.stat()
    read_only(cfg.run_dir())
    again = _run(cfg)
    assert again.nothing_to_do and again.complete and again.done_units == TOTAL
    assert (results.stat().st_ino, results.stat().st_mtime_ns) == (stat.st_ino, stat.st_mtime_ns)


@pytest.mark.parametrize(
    ("exc", "code", "err"),
    [
        (
            PermissionError(errno.EACCES, "Permission denied", "/ro/report"),
            1,
            "advrecon: error: cannot use /ro/report: Permission denied\n",
        ),
        (KeyboardInterrupt(), 130, "advrecon: interrupted\n"),
        (RunInterrupted("stopped by SIGTERM"), 130, "advrecon: interrupted: stopped by SIGTERM\n"),
    ],
)
def test_cli_turns_stray_os_errors_and_interrupts_into_one_line(
    monkeypatch, capsys, exc, code, err
):
    def command(args):
        raise exc

    parser = cli.build_parser()
    parser._subparsers._group_actions[0].choices["run"].set_defaults(func=command)
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    assert cli.main(["run", "x.yaml"]) == code
    assert capsys.readouterr().err == err


# ------------------------------------------------------------------ one run per folder
def test_second_run_on_a_locked_folder_says_who_holds_it(tmp_path):
    cfg = _cfg(tmp_path)
    _run(cfg, max_units=10)
    before = (cfg.run_dir() / "results.csv").read_bytes()
    with RunLock(cfg.run_dir() / "run.lock", cfg.run_dir()):
        with pytest.raises(RunFolderBusyError, match=f"in use by pid {os.getpid()} on host"):
            _run(cfg)
    assert (cfg.run_dir() / "results.csv").read_bytes() == before
    assert _run(cfg).complete  # the lock is gone with its holder


def test_a_still_running_rank_of_an_earlier_launch_blocks_the_folder(tmp_path):
    cfg = _cfg(tmp_path)
    _run(cfg, max_units=10)
    with RunLock(cfg.run_dir() / "run.rank1.lock", cfg.run_dir()):
        with pytest.raises(RunFolderBusyError, match="is in use by pid"):
            _run(cfg)


def test_two_concurrent_processes_never_duplicate_units(tmp_path):
    env = {**os.environ, "PYTHONPATH": fakes.child_pythonpath()}
    cmd = [sys.executable, str(FAKES), str(tmp_path), "0.5"]  # slow: still running later
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    lock = _cfg(tmp_path).run_dir() / "run.lock"
    deadline = time.time() + 30
    while time.time() < deadline and not (lock.exists() and lock.stat().st_size):
        time.sleep(0.01)
    second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    first.send_signal(signal.SIGINT)
    assert first.wait(timeout=30) == 130
    assert second.returncode == RunFolderBusyError.exit_code
    assert f"is in use by pid {first.pid} on host" in second.stderr
    assert "Traceback" not in second.stderr
    assert _run(_cfg(tmp_path)).complete
    df = pd.read_csv(_cfg(tmp_path).run_dir() / "results.csv")
    assert len(df) == TOTAL and df.unit_id.is_unique


# ------------------------------------------------------------------ progress and signals
def test_manifest_shows_progress_while_the_run_goes(tmp_path, monkeypatch):
    monkeypatch.setattr(progress, "PROGRESS_INTERVAL_S", 0.0)
    cfg = _cfg(tmp_path)
    seen = []

    def spy(batch, ctx):
        m = _manifest(cfg.run_dir())
        seen.append((m["status"], m["done_units"], m["total_units"]))
        return fakes.fake_executor(batch, ctx)

    _run(cfg, executor=spy, max_units=30)
    assert {s for s, _, _ in seen} == {"running"} and {t for _, _, t in seen} == {TOTAL}
    done = [d for _, d, _ in seen]
    assert done[0] == 0 and done == sorted(done) and done[-1] > 0
    m = _manifest(cfg.run_dir())
    assert m["status"] == "partial"
    assert m["done_units"] == len(pd.read_csv(cfg.run_dir() / "results.csv"))
    _run(cfg)
    assert _manifest(cfg.run_dir())["status"] == "complete"


def test_sigint_between_batches_marks_interrupted(tmp_path):
    cfg = _cfg(tmp_path)
    calls = []
    before = signal.getsignal(signal.SIGINT)  # default_int_handler, or SIG_IGN under nohup

    def executor(batch, ctx):
        calls.append(batch.key)
        if len(calls) == 4:
            os.kill(os.getpid(), signal.SIGINT)
        return fakes.fake_executor(batch, ctx)

    with pytest.raises(RunInterrupted, match="stopped by SIGINT.*run the same command again") as e:
        _run(cfg, executor=executor)
    assert e.value.exit_code == 130
    m = _manifest(cfg.run_dir())
    rows = len(pd.read_csv(cfg.run_dir() / "results.csv"))
    assert m["status"] == "interrupted" and m["done_units"] == rows and 0 < rows < TOTAL
    assert signal.getsignal(signal.SIGINT) == before  # the caller's handler restored


def test_signal_during_a_commit_waits_for_the_batch_to_be_written(tmp_path, monkeypatch):
    cfg = _cfg(tmp_path)
    real_append = TidyTable.append
    hits = []

    def append(self, rows):
        if self.what == "results" and rows:
            hits.append(len(rows))
            if len(hits) == 2:
                os.kill(os.getpid(), signal.SIGINT)  # arrives between arrays and rows
        return real_append(self, rows)

    monkeypatch.setattr(TidyTable, "append", append)
    with pytest.raises(RunInterrupted):
        _run(cfg)
    df = pd.read_csv(cfg.run_dir() / "results.csv")
    assert len(df) == hits[0] + hits[1]  # the interrupted batch is complete, none after it
    assert all((cfg.run_dir() / f).is_file() for f in df.arrays_file)


def test_sigterm_exits_130_with_interrupted_manifest(tmp_path):
    env = {**os.environ, "PYTHONPATH": fakes.child_pythonpath()}
    proc = subprocess.Popen(
        [sys.executable, str(FAKES), str(tmp_path), "0.2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    results = _cfg(tmp_path).run_dir() / "results.csv"
    deadline = time.time() + 30
    while time.time() < deadline and not results.exists():
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "stopped by SIGTERM" in err and "Traceback" not in err
    m = _manifest(results.parent)
    assert m["status"] == "interrupted" and m["done_units"] == len(pd.read_csv(results))


def test_workers_stop_when_their_launcher_dies(tmp_path):
    pid_file = tmp_path / "worker.pid"
    worker = (
        "import os, time, sys\n"
        "from advrecon.experiments.distributed import watch_launcher\n"
        "watch_launcher(poll_s=0.05)\n"
        f"open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "time.sleep(60)\n"
    )
    launcher = (
        "import subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, '-c', {worker!r}])\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", launcher])
    deadline = time.time() + 30
    while time.time() < deadline and not (pid_file.exists() and pid_file.read_text()):
        time.sleep(0.02)
    pid = int(pid_file.read_text())
    proc.kill()  # kill -9 of the launcher only
    proc.wait()
    while time.time() < deadline and _alive(pid):
        time.sleep(0.05)
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "zombie" in status.read_text())


# ------------------------------------------------------------------ degenerate results
def test_nan_metrics_are_never_committed(tmp_path):
    cfg = _cfg(tmp_path)

    def executor(batch, ctx):
        out = fakes.fake_executor(batch, ctx)
        if batch.ref.file == "file101" and batch.kind == "noise" and batch.rule == "reference":
            for row in out.rows.values():
                row["adv_psnr"] = float("inf")
                row["clean_ssim"] = float("nan")
        return out

    msg = (
        r"model fake \(4x\), file file101, slice 11, attack noise-reference on region at "
        r"budget 0: non-finite adv_psnr, clean_ssim; the batch was not saved"
    )
    with pytest.raises(NonFiniteResultError, match=msg):
        _run(cfg, executor=executor)
    df = pd.read_csv(cfg.run_dir() / "results.csv")
    cols = [c for c in df.columns if c.startswith(("clean_ssim", "clean_psnr", "adv_"))]
    assert len(df) > 0 and np.isfinite(df[cols].select_dtypes("number")).all().all()
    m = _manifest(cfg.run_dir())
    assert m["status"] == "failed" and "non-finite" in m["error"]


# ------------------------------------------------------------------ rank files
def test_a_removed_table_is_recreated_with_its_header(tmp_path):
    t = TidyTable(tmp_path / "results.rank1.csv")
    t.append([{"unit_id": "a", "x": 1}])
    (tmp_path / "results.rank1.csv").unlink()  # merged and removed by another process
    t.append([{"unit_id": "b", "x": 2}])
    header, rows = TidyTable(tmp_path / "results.rank1.csv").read()
    assert header == ["unit_id", "x"] and [r["unit_id"] for r in rows] == ["b"]


def test_headerless_rank_file_is_set_aside_not_a_permanent_block(tmp_path):
    cfg = _cfg(tmp_path)
    _run(cfg, max_units=20)
    run_dir = cfg.run_dir()
    lines = (run_dir / "results.csv").read_text().splitlines(keepends=True)
    (run_dir / "results.csv").write_text("".join(lines[:-5]))
    (run_dir / "results.rank1.csv").write_text("".join(lines[-5:]))  # rows without a header
    with pytest.warns(StoreWarning, match="not a results table.*moved to results.rank1.csv.bad"):
        res = _run(cfg)
    assert res.complete and (run_dir / "results.rank1.csv.bad").is_file()
    assert len(pd.read_csv(run_dir / "results.csv")) == TOTAL
    assert _run(cfg).nothing_to_do
