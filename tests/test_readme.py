"""Every shell and Python block of README.md runs as written, in one folder, in order.

Shell lines run with ``dial-visualization`` as this environment's command; a line that
opens a window (the app, the graph) is given ``--screenshot`` so that it renders offscreen
and returns. Lines that create a virtual environment or install packages are the two
commands that CI itself runs on a fresh checkout (``.ci/run``), so they are not repeated
here.
"""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
PROGRAM = "dial-visualization"
INSTALLING = ("pip install", "python3 -m venv", "apt-get install")
WINDOW_COMMANDS = (None, "app", "graph")


def blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README.read_text(), re.DOTALL | re.MULTILINE)


def shell_commands() -> list[str]:
    """The README's shell lines, continuation lines joined, install lines left out."""
    lines = "\n".join(blocks("bash")).replace("\\\n", " ").splitlines()
    return [line for line in lines if line.strip() and not any(i in line for i in INSTALLING)]


def command_line(line: str, folder: Path) -> tuple[list[str], dict]:
    """(argv, environment) for a README line: ``VAR=value`` prefixes go to the environment,
    the program is this Python's module, a window is rendered to a PNG."""
    words = shlex.split(line, comments=True)
    environment = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "MPLBACKEND": "Agg"}
    while words and re.match(r"^[A-Z_]+=", words[0]):
        name, _, value = words.pop(0).partition("=")
        environment[name] = value
    program = words.pop(0)
    assert program.endswith(PROGRAM), f"README runs {program!r}, not {PROGRAM}"
    command = words[0] if words and not words[0].startswith("-") else None
    if command in WINDOW_COMMANDS and "--screenshot" not in words and "--help" not in words:
        words += ["--screenshot", str(folder / "window.png")]
    return [sys.executable, "-m", "dial_visualization", *words], environment


def test_the_readme_has_examples_of_both_kinds():
    assert len(shell_commands()) >= 5 and len(blocks("python")) >= 2


def test_every_example_runs_as_written(tmp_path):
    for line in shell_commands():
        argv, environment = command_line(line, tmp_path)
        done = subprocess.run(argv, cwd=tmp_path, env=environment, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, f"{line}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    for number, source in enumerate(blocks("python")):
        script = tmp_path / f"readme_{number}.py"
        script.write_text(source)
        done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                              text=True, timeout=600,
                              env={**os.environ, "MPLBACKEND": "Agg"})
        assert done.returncode == 0, f"{source}\n{done.stderr[-3000:]}"


@pytest.mark.parametrize("line", ["dial-visualization demo demo/  # a comment",
                                  "QT_QPA_PLATFORM=offscreen dial-visualization graph"])
def test_lines_become_commands_of_this_environment(line, tmp_path):
    argv, environment = command_line(line, tmp_path)
    assert argv[:3] == [sys.executable, "-m", "dial_visualization"]
    if "graph" in line:
        assert argv[3:] == ["graph", "--screenshot", str(tmp_path / "window.png")]
        assert environment["QT_QPA_PLATFORM"] == "offscreen"
    else:
        assert argv[3:] == ["demo", "demo/"]
