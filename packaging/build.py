"""Build the self-contained vaestudio folder and its archive with PyInstaller.

    python packaging/build.py                       # -> dist/vaestudio/ and dist/vaestudio-<version>-linux-x86_64.tar.xz
    python packaging/build.py --format gz           # a third bigger archive, made 14x faster (for CI)
    python packaging/build.py --dist /tmp/d --work /tmp/w --no-archive

Run it with the Python that has vaestudio's dependencies installed (e.g. .venv/bin/python); it installs
PyInstaller into that environment if it is missing. Exit codes: 0 built, 1 build failed,
3 PyInstaller is missing and could not be installed.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "packaging" / "vaestudio.spec"
PYINSTALLER_REQUIREMENT = "pyinstaller>=6.5"
EXIT_BUILD_FAILED, EXIT_NO_PYINSTALLER = 1, 3
# Shipped next to the executable in the unpacked folder.
EXTRA_FILES = {"install-desktop.sh": ROOT / "packaging" / "install-desktop.sh"}


def project_version() -> str:
    """The version in vaestudio/__init__.py (read as text: importing would not be needed here)."""
    text = (ROOT / "vaestudio" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__\s*=\s*["\']([^"\']+)["\']', text, re.MULTILINE)
    if not match:
        raise SystemExit("build: no __version__ in vaestudio/__init__.py")
    return match.group(1)


def platform_tag() -> str:
    """e.g. linux-x86_64."""
    machine = platform.machine().lower() or "unknown"
    return f"{sys.platform.rstrip('0123456789')}-{machine}"


def ensure_pyinstaller() -> str | None:
    """Install PyInstaller into this Python if needed; returns None when ready, else why it is not."""
    if importlib.util.find_spec("PyInstaller") is not None:
        return None
    print(f"build: PyInstaller is missing; installing {PYINSTALLER_REQUIREMENT} into {sys.prefix}", flush=True)
    result = subprocess.run([sys.executable, "-m", "pip", "install", PYINSTALLER_REQUIREMENT],
                            capture_output=True, text=True)
    importlib.invalidate_caches()
    if result.returncode != 0 or importlib.util.find_spec("PyInstaller") is None:
        last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        return f"pip install {PYINSTALLER_REQUIREMENT} failed: {last[0]}"
    return None


def run_pyinstaller(dist: Path, work: Path) -> Path:
    """Run the spec; returns the built folder (dist/vaestudio)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    command = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
               "--distpath", str(dist), "--workpath", str(work), str(SPEC)]
    print("build: " + " ".join(command), flush=True)
    if subprocess.run(command, cwd=ROOT, env=env).returncode != 0:
        raise SystemExit(EXIT_BUILD_FAILED)
    folder = dist / "vaestudio"
    if not (folder / "vaestudio").is_file():
        print(f"build: PyInstaller finished but {folder / 'vaestudio'} is missing", file=sys.stderr)
        raise SystemExit(EXIT_BUILD_FAILED)
    for name, source in EXTRA_FILES.items():
        shutil.copy2(source, folder / name)
    return folder


def strip_tensorflow(folder: Path) -> int:
    """Drop the symbol tables of TensorFlow's shared libraries (about 250 MB); returns bytes saved.

    Only TensorFlow's: stripping libraries that auditwheel patched (numpy's, Pillow's) breaks them.
    """
    if shutil.which("strip") is None:
        print("build: no `strip` tool; TensorFlow's libraries keep their symbol tables", flush=True)
        return 0
    saved = 0
    for library in sorted((folder / "_internal" / "tensorflow").rglob("*.so*")):
        if library.is_symlink() or not library.is_file():
            continue
        before = library.stat().st_size
        subprocess.run(["strip", "--strip-unneeded", str(library)], check=True)
        saved += before - library.stat().st_size
    return saved


def make_archive(folder: Path, target: Path, fmt: str, top: str) -> Path:
    """Pack `folder` as `top/` into a .tar.gz or .tar.xz (xz multi-threaded when the xz tool exists)."""
    partial = target.with_name(target.name + ".partial")
    if fmt == "xz" and shutil.which("tar") and shutil.which("xz"):
        # GNU tar + xz -T0 uses every core; Python's lzma uses one.
        # rename the top folder in member names only (S: leave symlink targets alone)
        subprocess.run(["tar", "-C", str(folder.parent), "--transform", f"s,^{folder.name}\\(/\\|$\\),{top}\\1,S",
                        "-I", "xz -T0 -6", "-cf", str(partial), folder.name], check=True)
    else:
        with tarfile.open(partial, f"w:{fmt}", **({"compresslevel": 6} if fmt == "gz" else {})) as tar:
            tar.add(folder, arcname=top)
    partial.replace(target)
    return target


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="output folder (default: dist/)")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "pyinstaller",
                        help="PyInstaller's work folder; kept between builds to make rebuilds faster")
    parser.add_argument("--format", choices=("xz", "gz"), default="xz",
                        help="archive compression: xz is a third smaller, gz much faster to make (default: xz)")
    parser.add_argument("--no-archive", action="store_true", help="only build the folder")
    parser.add_argument("--no-strip", action="store_true", help="keep the symbol tables of TensorFlow's libraries")
    args = parser.parse_args(argv)

    problem = ensure_pyinstaller()
    if problem:
        print(f"build: cannot build without PyInstaller: {problem}", file=sys.stderr)
        return EXIT_NO_PYINSTALLER
    started = time.monotonic()
    folder = run_pyinstaller(args.dist.resolve(), args.work.resolve())
    if not args.no_strip:
        print(f"build: stripped {strip_tensorflow(folder) / 1e6:.0f} MB of symbol tables", flush=True)
    built = time.monotonic()
    print(f"build: {folder} ({folder_size(folder) / 1e6:.0f} MB) in {built - started:.0f} s", flush=True)
    if not args.no_archive:
        version = project_version()
        target = args.dist.resolve() / f"vaestudio-{version}-{platform_tag()}.tar.{args.format}"
        make_archive(folder, target, args.format, top=f"vaestudio-{version}")
        print(f"build: {target} ({target.stat().st_size / 1e6:.0f} MB) in {time.monotonic() - built:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
