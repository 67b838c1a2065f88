"""The container of a signed bundle (".fgkb"): a zip written deterministically and read defensively.

Writing: members in sorted name order, fixed timestamps (1980-01-01), fixed permissions and host, deflate at a
fixed level, so the same members give the same bytes. Reading: only the known member names (no paths, so no
traversal), no duplicates, no encryption, stored or deflated only, and every member bounded in size before and
while it is inflated (a zip bomb stops at the limit). Anything else is a `BundleRejected` naming the problem.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Mapping

from .errors import BundleRejected

__all__ = [
    "BUNDLE_MEMBER",
    "DELTA_MEMBER",
    "MANIFEST_MEMBER",
    "MEMBER_NAMES",
    "SIGNATURE_MEMBER",
    "pack",
    "unpack",
]

MANIFEST_MEMBER = "manifest.json"
SIGNATURE_MEMBER = "signature.json"
BUNDLE_MEMBER = "bundle.json"
DELTA_MEMBER = "delta.json"
MEMBER_NAMES = (BUNDLE_MEMBER, DELTA_MEMBER, MANIFEST_MEMBER, SIGNATURE_MEMBER)

MIB = 1024 * 1024
# Upper bounds per member (inflated). A 100k-point synthetic bundle is ~70 MB of JSON; the manifest lists the
# superseded kp_ids (~22 bytes each); a signature is ~150 bytes.
MAX_MEMBER_BYTES = {
    BUNDLE_MEMBER: 512 * MIB,
    DELTA_MEMBER: 512 * MIB,
    MANIFEST_MEMBER: 8 * MIB,
    SIGNATURE_MEMBER: 64 * 1024,
}

_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest zip timestamp: nothing in the file depends on the clock
_FILE_MODE = 0o100644 << 16  # regular file, rw-r--r--
_UNIX = 3  # "create_system": Unix, whatever host wrote the file
_LEVEL = 6
# What zipfile raises on damaged input besides BadZipFile: bad offsets (ValueError "negative seek"), features it
# does not implement (NotImplementedError: strong encryption, patched data, newer versions), short structures.
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError, OverflowError, struct.error)


def pack(members: Mapping[str, bytes]) -> bytes:
    """The zip holding `members` (known names only), byte-identical for identical members."""
    unknown = sorted(set(members) - set(MEMBER_NAMES))
    if unknown:
        raise ValueError(f"not a bundle member name: {unknown[0]!r}")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = _FILE_MODE
            info.create_system = _UNIX
            archive.writestr(info, members[name], compresslevel=_LEVEL)
    return out.getvalue()


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    name, limit = info.filename, MAX_MEMBER_BYTES[info.filename]
    if info.flag_bits & 0x1:
        raise BundleRejected(f"{name}: encrypted members are not accepted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise BundleRejected(f"{name}: compression method {info.compress_type} is not accepted (stored or deflate)")
    if info.file_size > limit:
        raise BundleRejected(f"{name}: {info.file_size} bytes, more than the {limit} allowed")
    try:
        with archive.open(info) as stream:
            data = stream.read(limit + 1)  # the header may lie about the size: never inflate beyond the limit
    except _ZIP_ERRORS as exc:
        raise BundleRejected(f"{name}: damaged in the zip file ({exc})") from None
    if len(data) > limit:
        raise BundleRejected(f"{name}: more than the {limit} bytes allowed")
    return data


def unpack(data: bytes) -> dict[str, bytes]:
    """The members of a bundle file by name; raises BundleRejected when it is not a well-formed bundle zip.

    Checks the container only: known names, no duplicates, sizes, CRCs, and that `manifest.json` is there. Which
    members the manifest requires is checked against the manifest later.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except _ZIP_ERRORS:
        raise BundleRejected("not a zip file (truncated or not a bundle)") from None
    with archive:
        infos = archive.infolist()
        seen: set[str] = set()
        for info in infos:
            if info.filename not in MEMBER_NAMES:
                raise BundleRejected(f"unexpected member {info.filename!r} in the bundle file")
            if info.filename in seen:
                raise BundleRejected(f"member {info.filename!r} appears twice in the bundle file")
            seen.add(info.filename)
        if MANIFEST_MEMBER not in seen:
            raise BundleRejected(f"missing member {MANIFEST_MEMBER!r}")
        return {info.filename: _read_member(archive, info) for info in infos}
