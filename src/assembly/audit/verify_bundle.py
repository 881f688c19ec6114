"""Check a signed record bundle offline: a zip of the public exports, the whole audit log
(`audit-log.json`) and the signed checkpoint made with it (`checkpoint.txt`). The log is
verified as any export is, with the checkpoint as a saved one; then the last `record_published`
entry that checkpoint covers must list every exported file in the zip with its SHA-256. Each
file that differs, is missing or was added is a failure that names it."""

from __future__ import annotations

import hashlib
import json
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from assembly.audit import notes, verify

RECORD_PUBLISHED = "record_published"
LOG_FILE = "audit-log.json"
CHECKPOINT_FILE = "checkpoint.txt"
README_FILE = "README.txt"
OWN_FILES = frozenset({README_FILE, LOG_FILE, CHECKPOINT_FILE})
"""The bundle's own files, which the record_published entry does not list: the log and the
checkpoint carry their own signatures, the README only says how to verify."""
CHUNK = 1 << 16


class BundleError(ValueError):
    """The file is a zip but not a record bundle that can be read."""


@dataclass(slots=True)
class Bundle:
    """A record bundle as read: the log export, the checkpoint, the SHA-256 of every other
    file by its path, and what could not be read (a damaged file, a name given twice)."""

    document: dict[str, Any]
    checkpoint: str | None
    digests: dict[str, str] = field(default_factory=dict)
    damaged: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class FilesChecked:
    entry: int | None = None
    """The index of the record_published entry the files were checked against."""
    matched: int = 0


def is_bundle(path: Path) -> bool:
    return zipfile.is_zipfile(path)


def _sha256(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> str:
    digest = hashlib.sha256()
    with archive.open(info) as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def read_bundle(source: Path | IO[bytes]) -> Bundle:
    """Read a bundle without extracting anything; raises BundleError when the zip holds no
    readable audit-log.json."""
    try:
        with zipfile.ZipFile(source) as archive:
            infos = [info for info in archive.infolist() if not info.is_dir()]
            names = [info.filename for info in infos]
            if LOG_FILE not in names:
                raise BundleError(f"the zip has no {LOG_FILE}: it is not a record bundle")
            try:
                document = verify.load(archive.read(LOG_FILE).decode("utf-8"))
            except (ValueError, zipfile.BadZipFile) as exc:
                raise BundleError(
                    f"{LOG_FILE} cannot be read as an audit log export: {exc}"
                ) from None
            checkpoint = None
            if CHECKPOINT_FILE in names:
                try:
                    checkpoint = archive.read(CHECKPOINT_FILE).decode("utf-8")
                except (ValueError, zipfile.BadZipFile) as exc:
                    raise BundleError(f"{CHECKPOINT_FILE} cannot be read: {exc}") from None
            bundle = Bundle(document, checkpoint)
            for info in infos:
                name = info.filename
                if names.count(name) > 1:
                    # Unzipping keeps one of them, maybe not the one checked.
                    bundle.damaged[name] = f"the zip holds {names.count(name)} files of that name"
                elif name not in OWN_FILES:
                    try:
                        bundle.digests[name] = _sha256(archive, info)
                    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
                        bundle.damaged[name] = f"it cannot be read from the zip ({exc})"
            return bundle
    except zipfile.BadZipFile as exc:
        raise BundleError(f"not a readable zip: {exc}") from None


def _published_entry(
    entries: list[Any], size: int, report: verify.Report
) -> tuple[int, Mapping[str, Any]] | None:
    """The last record_published entry among the first `size` entries, with its file list."""
    for index in range(min(size, len(entries)) - 1, -1, -1):
        try:
            data = json.loads(entries[index]["data"])
        except (KeyError, TypeError, ValueError):
            continue  # verify reports the entry itself
        if not isinstance(data, dict) or data.get("type") != RECORD_PUBLISHED:
            continue
        files = data.get("files")
        if not isinstance(files, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in files.items()
        ):
            report.failures.append(f"entry {index}: a {RECORD_PUBLISHED} entry without its files")
            return None
        return index, files
    report.failures.append(
        f"no {RECORD_PUBLISHED} entry among the {size} entries {CHECKPOINT_FILE} covers: "
        "nothing signed lists the exported files"
    )
    return None


def check_files(bundle: Bundle, report: verify.Report, *, key: str | None = None) -> FilesChecked:
    """After `verify.verify` of the bundle's log (with its checkpoint as a saved one): every
    exported file must be the one the signed record_published entry lists."""
    done = FilesChecked()
    for name, why in sorted(bundle.damaged.items()):
        report.failures.append(f"{name}: {why}")
    if bundle.checkpoint is None:
        report.failures.append(
            f"the bundle has no {CHECKPOINT_FILE}: nothing signed covers its exported files"
        )
        return done
    try:
        verifier = notes.parse_verifier_key(key or bundle.document["verifier_key"])
        checkpoint, _ = notes.open_checkpoint(
            bundle.checkpoint, verifier, bundle.document["origin"]
        )
    except (KeyError, TypeError, notes.NoteError):
        # verify names the reason; without a valid checkpoint no file list can be trusted.
        report.failures.append(
            f"the exported files are not checked: {CHECKPOINT_FILE} does not verify"
        )
        return done
    entries = bundle.document.get("entries")
    found = _published_entry(entries if isinstance(entries, list) else [], checkpoint.size, report)
    if found is None:
        return done
    done.entry, listed = found
    for name, digest in sorted(listed.items()):
        if name in bundle.damaged:
            continue
        actual = bundle.digests.get(name)
        if actual is None:
            report.failures.append(
                f"{name}: listed in entry {done.entry} ({RECORD_PUBLISHED}) but not in the bundle"
            )
        elif actual != digest.lower():
            report.failures.append(
                f"{name}: altered: its SHA-256 is {actual}, entry {done.entry} "
                f"({RECORD_PUBLISHED}) records {digest}"
            )
        else:
            done.matched += 1
    for name in sorted(set(bundle.digests) - set(listed)):
        report.failures.append(
            f"{name}: not listed in entry {done.entry} ({RECORD_PUBLISHED}): it was added to "
            "the bundle after it was signed"
        )
    return done
