"""``s3-dist-cp`` on local paths, for EMR playbooks run on the local fabric.

Run as ``python -m dataflow_runner.fabrics.local.distcp --src DIR --dest DIR
[--srcPattern RE] [--groupBy RE] [--outputCodec gz|gzip|none|keep]
[--deleteOnSuccess]``, after path mapping. Other s3-dist-cp flags are
accepted and ignored (they tune S3 and HDFS), with a note on stderr.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

_VALUED = {
    "--src",
    "--dest",
    "--srcPattern",
    "--groupBy",
    "--outputCodec",
    "--s3Endpoint",
    "--targetSize",
    "--srcPrefixesFile",
    "--s3ServerSideEncryption",
    "--storageClass",
    "--multipartUploadChunkSize",
    "--copyFromManifest",
    "--previousManifest",
    "--outputManifest",
    "--requirePreviousManifest",
}
_FLAGS = {"--deleteOnSuccess", "--disableMultipartUpload", "--numberFiles", "--appendToLastFile"}
_SUPPORTED = {"--src", "--dest", "--srcPattern", "--groupBy", "--outputCodec", "--deleteOnSuccess"}


def parse(argv: Sequence[str]) -> dict[str, str | bool]:
    opts: dict[str, str | bool] = {}
    it = iter(argv)
    for arg in it:
        name, eq, value = arg.partition("=")
        if name in _VALUED:
            opts[name] = value if eq else next(it, "")
        elif name in _FLAGS:
            opts[name] = True
        else:
            raise SystemExit(f"s3-dist-cp: unknown option {arg}")
    for required in ("--src", "--dest"):
        if not opts.get(required):
            raise SystemExit(f"s3-dist-cp: {required} is required")
    return opts


def _files(src: Path, pattern: re.Pattern[str] | None) -> Iterator[Path]:
    if src.is_file():
        yield src
        return
    for root, _dirs, names in sorted(os.walk(src)):
        for name in sorted(names):
            path = Path(root) / name
            if pattern is None or pattern.fullmatch(str(path)):
                yield path


def _codec_name(name: str, codec: str) -> str:
    if codec in ("gz", "gzip") and not name.endswith(".gz"):
        return name + ".gz"
    if codec == "none" and name.endswith(".gz"):
        return name[:-3]
    return name


def _read(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def _write(path: Path, data: bytes, codec: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if codec in ("gz", "gzip") else data)


def copy(opts: dict[str, str | bool]) -> int:
    src, dest = Path(str(opts["--src"])), Path(str(opts["--dest"]))
    if not src.exists():
        print(f"s3-dist-cp: source {src} does not exist", file=sys.stderr)
        return 1
    pattern = re.compile(str(opts["--srcPattern"])) if opts.get("--srcPattern") else None
    group = re.compile(str(opts["--groupBy"])) if opts.get("--groupBy") else None
    codec = str(opts.get("--outputCodec", "keep")).lower()
    copied: list[Path] = []
    groups: dict[str, list[Path]] = {}
    for path in _files(src, pattern):
        rel = path.relative_to(src) if src.is_dir() else Path(path.name)
        if group is not None:
            m = group.fullmatch(str(path))
            if m:
                groups.setdefault("".join(g or "" for g in m.groups()), []).append(path)
                continue
        target = dest / rel.parent / _codec_name(rel.name, codec)
        if codec == "keep":
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        else:
            _write(target, _read(path), codec)
        copied.append(path)
    for key, members in groups.items():
        data = b"".join(_read(p) if codec != "keep" else p.read_bytes() for p in members)
        _write(dest / _codec_name(key, codec), data, codec)
        copied.extend(members)
    if opts.get("--deleteOnSuccess"):
        for path in copied:
            path.unlink()
    print(f"s3-dist-cp: copied {len(copied)} files from {src} to {dest}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse(list(sys.argv[1:] if argv is None else argv))
    ignored = sorted(set(opts) - _SUPPORTED)
    if ignored:
        print(f"s3-dist-cp: ignoring {', '.join(ignored)} on the local fabric", file=sys.stderr)
    return copy(opts)


if __name__ == "__main__":
    sys.exit(main())
