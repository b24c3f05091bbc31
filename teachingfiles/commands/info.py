"""``teachingfiles info``: versions, image decoders and tools, for bug reports."""

from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import platform
import shutil
from typing import Any

__all__ = ["collect_info", "register"]

_PACKAGES = (
    "teachingfiles", "pydicom", "pylibjpeg", "pylibjpeg-openjpeg", "pylibjpeg-libjpeg",
    "pylibjpeg-rle", "pydicom-data", "numpy", "scipy", "matplotlib", "SQLAlchemy",
    "PyYAML", "openpyxl", "tqdm", "ipywidgets", "anywidget", "voila", "jupyterlab",
)  # fmt: skip
_TOOLS = ("dciodvfy", "chromium", "Orthanc", "pg_ctl")


def collect_info() -> dict[str, Any]:
    """Gather versions of Python, the packages that matter, and external tools."""
    versions: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            versions[name] = md.version(name)
        except md.PackageNotFoundError:
            versions[name] = None
    from pydicom.pixels.decoders.base import get_decoder
    from pydicom.uid import (
        JPEG2000Lossless,
        JPEGBaseline8Bit,
        JPEGExtended12Bit,
        JPEGLosslessSV1,
        JPEGLSLossless,
        RLELossless,
    )

    decoders = {}
    for uid in (JPEGBaseline8Bit, JPEGExtended12Bit, JPEGLosslessSV1, JPEGLSLossless,
                JPEG2000Lossless, RLELossless):  # fmt: skip
        decoder = get_decoder(uid)
        decoders[uid.name] = sorted(decoder.available_plugins)
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
        "decoders": decoders,
        "tools": {tool: shutil.which(tool) for tool in _TOOLS},
    }


def _run(args: argparse.Namespace) -> int:
    info = collect_info()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"Python {info['python']} on {info['platform']}")
    print("Packages:")
    for name, version in info["packages"].items():
        print(f"  {name:20} {version or '-'}")
    print("Decoders (transfer syntax: plugins available):")
    for name, plugins in info["decoders"].items():
        print(f"  {name:60} {', '.join(plugins) or 'NONE - install pylibjpeg plugins'}")
    print("Tools:")
    for tool, path in info["tools"].items():
        print(f"  {tool:20} {path or '-'}")
    return 0


def register(subparsers: Any) -> None:
    """Add the ``info`` subcommand."""
    parser = subparsers.add_parser(
        "info",
        help="show versions, image decoders and external tools",
        description="Show the versions of the packages teachingfiles uses, which "
        "compressed transfer syntaxes can be decoded, and which external tools are found.",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=_run)
