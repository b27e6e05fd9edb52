"""TensorFlow.js, the runtime the report's latent plane decodes with: where its pinned `tf.min.js` lives, and
how to fetch it from the npm registry (checked against the registry's sha512 `integrity`).

`tf.min.js` of `@tensorflow/tfjs` is its union bundle (core, layers, converter, data, the cpu and webgl
backends): one file with no further dependencies in a browser. Apache-2.0.

    python -m vaestudio.report.tfjs fetch     # download, verify and unpack it into the cache
    python -m vaestudio.report.tfjs where     # print where it is (exit 1 when missing)
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import sys
import tarfile
import urllib.request
from pathlib import Path

from vaestudio.core.errors import VaeStudioError

VERSION = "4.22.0"
PACKAGE = "@tensorflow/tfjs"
LICENSE = "Apache-2.0"
# The registry's `dist.integrity` of the pinned tarball (npm view @tensorflow/tfjs@4.22.0 dist.integrity).
INTEGRITY = "sha512-0TrIrXs6/b7FLhLVNmfh8Sah6JgjBPH4mZ8JGb7NU6WW+cx00qK5BcAZxw7NCzxj6N8MRAIfHq+oNbPUNG5VAg=="
MEMBER = "package/dist/tf.min.js"
# sha256 of that member, so a damaged or replaced cached file is refused.
FILE_SHA256 = "300dfae273d20b4046f46a06d735688f03675a807561e9bcb5f664eb2f3d2831"
FILE_NAME = "tf.min.js"
REGISTRY = "https://registry.npmjs.org"  # NPM_CONFIG_REGISTRY overrides, as for npm
MAX_TARBALL = 64 * 2**20
ENVIRONMENT = "VAESTUDIO_TFJS"  # a tf.min.js elsewhere (same version: its sha256 is checked)
HOW_TO_GET = "get it with: python -m vaestudio.report.tfjs fetch (or bash packaging/bootstrap.sh)"


class TfjsMissing(VaeStudioError):
    """The pinned tf.min.js is not on this machine (or is not the pinned file)."""


def cache_dir() -> Path:
    """~/.cache/vaestudio/tfjs-VERSION (XDG_CACHE_HOME respected)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vaestudio" / f"tfjs-{VERSION}"


def candidates() -> list[Path]:
    """Where tf.min.js is looked for, in order."""
    found = [Path(os.environ[ENVIRONMENT])] if os.environ.get(ENVIRONMENT) else []
    return found + [cache_dir() / FILE_NAME, Path(__file__).resolve().parent / "vendor" / FILE_NAME]


def find_tfjs() -> Path:
    """The path of the pinned tf.min.js; TfjsMissing (one line saying how to get it) when there is none."""
    for path in candidates():
        if path.is_file():
            if _sha256(path.read_bytes()) != FILE_SHA256:
                raise TfjsMissing(f"{path}: is not TensorFlow.js {VERSION}'s tf.min.js (its sha256 differs); "
                                  f"{HOW_TO_GET}")
            return path
    raise TfjsMissing(f"{cache_dir() / FILE_NAME}: TensorFlow.js {VERSION} (tf.min.js, for the report's latent "
                      f"plane) is missing; {HOW_TO_GET}")


def read_tfjs() -> str:
    """The script's text, checked to be safe inside an inline <script> element."""
    text = find_tfjs().read_text(encoding="utf-8")
    lowered = text.lower()
    if "</script" in lowered or "<!--" in lowered:  # would end (or confuse) the inline script element
        raise TfjsMissing(f"{find_tfjs()}: holds '</script' or '<!--' and cannot be inlined")
    return text


def fetch(target: Path | None = None) -> Path:
    """Download the pinned tarball from the npm registry, check its sha512 against INTEGRITY, and write
    tf.min.js into the cache (temporary name, then rename). Returns the file's path."""
    target = target or cache_dir() / FILE_NAME
    registry = os.environ.get("NPM_CONFIG_REGISTRY", REGISTRY).rstrip("/")
    url = f"{registry}/{PACKAGE}/-/{PACKAGE.split('/')[-1]}-{VERSION}.tgz"
    try:
        with urllib.request.urlopen(url, timeout=120) as answer:
            tarball = answer.read(MAX_TARBALL + 1)
    except (OSError, ValueError) as exc:
        raise TfjsMissing(f"{url}: could not be downloaded ({exc}); nothing was written") from exc
    if len(tarball) > MAX_TARBALL:
        raise TfjsMissing(f"{url}: larger than {MAX_TARBALL // 2**20} MiB, not the pinned package")
    digest = "sha512-" + base64.b64encode(hashlib.sha512(tarball).digest()).decode("ascii")
    if digest != INTEGRITY:
        raise TfjsMissing(f"{PACKAGE}@{VERSION}: the tarball's sha512 ({digest[:24]}…) is not the registry's "
                          f"integrity ({INTEGRITY[:24]}…); nothing was written")
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        member = archive.extractfile(MEMBER)
        if member is None:
            raise TfjsMissing(f"{PACKAGE}@{VERSION}: the tarball has no {MEMBER}")
        script = member.read()
    if _sha256(script) != FILE_SHA256:
        raise TfjsMissing(f"{PACKAGE}@{VERSION}: its {MEMBER} is not the expected file (sha256 differs)")
    from vaestudio.core.store.atomic import write_bytes_atomic

    write_bytes_atomic(target, script)
    return target


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    command = args[0] if args else "where"
    try:
        if command == "fetch":
            try:
                path = find_tfjs()
                print(f"TensorFlow.js {VERSION} is already at {path}")
            except TfjsMissing:
                path = fetch()
                print(f"Fetched TensorFlow.js {VERSION} ({LICENSE}) into {path} (sha512 checked)")
            return 0
        if command == "where":
            print(find_tfjs())
            return 0
    except (VaeStudioError, OSError) as exc:
        print(f"vaestudio: error: {exc}", file=sys.stderr)
        return 1
    print("usage: python -m vaestudio.report.tfjs fetch|where", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
