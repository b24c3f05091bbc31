"""The ``teachingfiles`` command: --help everywhere, errors to stderr with status 1."""

import argparse
import json
import subprocess
import sys

import pytest

from teachingfiles.cli import COMMANDS, build_parser, main


def _all_command_paths() -> list[list[str]]:
    paths: list[list[str]] = []

    def walk(parser: argparse.ArgumentParser, prefix: list[str]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    paths.append([*prefix, name])
                    walk(sub, [*prefix, name])

    walk(build_parser(), [])
    return paths


def test_every_listed_command_is_registered():
    top = {tuple(p) for p in _all_command_paths() if len(p) == 1}
    assert top == {(name,) for name in COMMANDS}


@pytest.mark.parametrize("path", _all_command_paths(), ids=" ".join)
def test_help_on_every_subcommand(path, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*path, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: teachingfiles " + " ".join(path))


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "usage: teachingfiles" in capsys.readouterr().out


def test_console_script_runs_info_json():
    proc = subprocess.run(
        [sys.executable, "-m", "teachingfiles.cli", "info", "--json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    info = json.loads(proc.stdout)
    assert info["packages"]["pydicom"].startswith("3.")
    assert "pylibjpeg" in info["decoders"]["RLE Lossless"]


def test_help_and_the_header_reader_load_no_heavy_modules():
    # `teachingfiles --help` and the catalog's worker processes stay light: the image
    # stack, the database layer and the HTTP clients load only when a command needs them.
    code = (
        "import sys, teachingfiles.dicom.headers\n"
        "from teachingfiles.cli import build_parser\n"
        "build_parser()\n"
        "heavy = {'numpy', 'sqlalchemy', 'requests', 'dicomweb_client', 'matplotlib'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
