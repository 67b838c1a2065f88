"""The bundle container: written deterministically (sorted names, fixed times), read defensively (known names
only, no duplicates, bounded sizes, intact CRCs)."""

from __future__ import annotations

import io
import struct
import warnings
import zipfile

import pytest

from fundguard.knowledge_base.bundle import BundleRejected, archive
from fundguard.knowledge_base.bundle.archive import pack, unpack

MEMBERS = {"manifest.json": b'{"m":1}', "bundle.json": b'{"b":2}' * 100}


def test_the_same_members_give_the_same_bytes_sorted_and_undated() -> None:
    """Packing twice (in any member order) gives identical bytes; names are sorted, times fixed at 1980-01-01."""
    first = pack(MEMBERS)
    assert first == pack(dict(reversed(list(MEMBERS.items()))))
    with zipfile.ZipFile(io.BytesIO(first)) as z:
        infos = z.infolist()
    assert ["bundle.json", "manifest.json"] == [i.filename for i in infos]
    assert {(1980, 1, 1, 0, 0, 0)} == {i.date_time for i in infos}


def test_unpack_gives_the_members_back() -> None:
    """What was packed is what is read."""
    assert MEMBERS == unpack(pack(MEMBERS))


def test_pack_refuses_an_unknown_member_name() -> None:
    """Only bundle member names can be written."""
    with pytest.raises(ValueError, match="evil"):
        pack({"../evil": b""})


def _zip(entries: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(out, "w") as z:
        warnings.simplefilter("ignore")  # the duplicate-name case is written on purpose
        for name, body in entries:
            z.writestr(name, body)
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "not a zip file"),
        (b"PK\x03\x04 truncated", "not a zip file"),
        (pack(MEMBERS)[:-30], "not a zip file"),
        (_zip([("manifest.json", b"{}"), ("../../etc/passwd", b"x")]), "unexpected member '../../etc/passwd'"),
        (_zip([("manifest.json", b"{}"), ("extra.txt", b"x")]), "unexpected member 'extra.txt'"),
        (_zip([("manifest.json", b"{}"), ("bundle.json", b"1"), ("bundle.json", b"2")]), "appears twice"),
        (_zip([("bundle.json", b"{}")]), "missing member 'manifest.json'"),
    ],
    ids=["empty", "header-only", "truncated", "path-traversal", "extra-member", "duplicate", "no-manifest"],
)
def test_unpack_refuses_what_is_not_a_bundle_zip(data: bytes, reason: str) -> None:
    """Each malformed container is refused with its reason."""
    with pytest.raises(BundleRejected) as refused:
        unpack(data)
    assert reason in refused.value.reason


def test_a_damaged_member_is_refused_by_its_crc() -> None:
    """A byte flipped inside a stored member's data fails the zip's CRC check, naming the member."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr("manifest.json", b"{}")
        z.writestr("bundle.json", b"A" * 200)
    data = bytearray(out.getvalue())
    data[data.index(b"A" * 200) + 100] ^= 0x01
    with pytest.raises(BundleRejected, match=r"bundle\.json: damaged in the zip file"):
        unpack(bytes(data))


def test_inconsistent_zip_offsets_are_refused_not_crashing() -> None:
    """Regression (found by fuzzing): a central-directory offset pointing past the members made zipfile raise
    ValueError ("negative seek value"); it is a BundleRejected like any other damage."""
    data = bytearray(pack(MEMBERS))
    end = data.rfind(b"PK\x05\x06")
    (offset,) = struct.unpack_from("<I", data, end + 16)
    struct.pack_into("<I", data, end + 16, offset + 1000)
    with pytest.raises(BundleRejected, match="damaged in the zip file"):
        unpack(bytes(data))


def test_a_member_beyond_its_size_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """A member larger than its limit is refused before it is inflated (a zip bomb stops there)."""
    monkeypatch.setitem(archive.MAX_MEMBER_BYTES, "bundle.json", 64)
    with pytest.raises(BundleRejected, match=r"bundle\.json: 700 bytes, more than the 64 allowed"):
        unpack(pack(MEMBERS))


def test_a_member_lying_about_its_size_is_not_inflated_beyond_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A directory entry that understates a member's size passes the size check but the member is then refused:
    no more than the stated size is inflated, and the CRC does not match."""
    real_infolist = zipfile.ZipFile.infolist

    def lying_infolist(self: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
        infos = real_infolist(self)
        for info in infos:
            info.file_size = min(info.file_size, 10)
        return infos

    monkeypatch.setattr(zipfile.ZipFile, "infolist", lying_infolist)
    with pytest.raises(BundleRejected, match=r"bundle\.json: damaged in the zip file"):
        unpack(pack(MEMBERS))
