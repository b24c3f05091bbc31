"""Byte-level walking of DICOM data for :mod:`teachingfiles.dicom.headers`.

Buffers over a file descriptor (or an inflating Deflated stream), element headers in
each of the three encodings, skipping of undefined-length sequences and items, and
the check that encapsulated Pixel Data fragments end inside the file. Private: the
public face is :func:`teachingfiles.dicom.headers.read_header`.
"""

from __future__ import annotations

import os
import struct
import sys
import zlib

from teachingfiles.errors import InvalidDicomError

__all__: list[str] = []  # private helpers of teachingfiles.dicom.headers

_UNDEFINED = 0xFFFFFFFF
_ITEM = 0xFFFEE000
_ITEM_END = 0xFFFEE00D
_SEQ_END = 0xFFFEE0DD
_LONG_VRS = frozenset(
    (b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV")
)
_FIRST_BLOCK = 16384
_VRS = frozenset(
    b"AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL "
    b"UN UR US UT UV".split()
)


class _SurpriseError(Exception):
    """Something the fast path does not handle: read this file with pydicom instead."""


class _Buffer:
    """The file's bytes from its start, read in growing blocks as parsing needs them.

    ``fd`` is an open file descriptor (``None`` for an in-memory stream, such as an
    inflated Deflated data set); reads use ``os.pread``.
    """

    def __init__(self, fd: int | None, size: int, data: bytes = b"") -> None:
        self.fd = fd
        self.size = size
        self.data = data

    def need(self, end: int) -> bool:
        """Make ``data`` reach ``end``; ``False`` if the file is shorter."""
        if end <= len(self.data):
            return True
        if end > self.size or self.fd is None:
            return False
        have = len(self.data)
        self.data += os.pread(self.fd, max(end - have, 4 * _FIRST_BLOCK), have)
        return end <= len(self.data)

    def read_at(self, pos: int, n: int) -> bytes:
        """``n`` bytes at ``pos`` (from memory if already read)."""
        if pos + n <= len(self.data) or self.fd is None:
            return self.data[pos : pos + n]
        return os.pread(self.fd, n, pos)


class _InflatingBuffer(_Buffer):
    """A Deflated data set, inflated only as far as parsing needs (the header, not the image).

    The compressed stream starts at ``start`` in the file. Its Pixel Data is not
    inflated here, so a file cut inside its compressed pixels is only found when
    the image is decoded; one cut inside the header is reported as truncated.
    """

    def __init__(self, src: _Buffer, start: int, path: str) -> None:
        super().__init__(None, sys.maxsize, b"")
        self.src = src
        self.cpos = start
        self.path = path
        self.inflater = zlib.decompressobj(-15)

    def need(self, end: int) -> bool:
        """Inflate until ``data`` reaches ``end``; ``False`` at the end of the stream."""
        while len(self.data) < end:
            if self.inflater.eof:
                self.size = len(self.data)
                return False
            chunk = self.inflater.unconsumed_tail
            if not chunk:
                if self.cpos >= self.src.size:
                    raise InvalidDicomError(
                        "truncated: the Deflated data set ends before its compressed stream does",
                        path=self.path,
                    )
                self.src.need(min(self.cpos + _FIRST_BLOCK, self.src.size))
                chunk = self.src.data[self.cpos : self.cpos + _FIRST_BLOCK]
                self.cpos += len(chunk)
            try:
                self.data += self.inflater.decompress(chunk, max(end - len(self.data), 65536))
            except zlib.error as exc:
                raise InvalidDicomError(
                    f"broken Deflated data set ({exc})", path=self.path
                ) from None
        return True


class _Parser:
    """Walks one data set encoding; ``buf.data`` holds the stream from ``start``."""

    def __init__(self, buf: _Buffer, explicit: bool, little: bool, path: str) -> None:
        self.buf = buf
        self.explicit = explicit
        self.path = path
        e = "<" if little else ">"
        self.tag_fmt = struct.Struct(e + "HH")
        self.head = struct.Struct(e + ("HH2sH" if explicit else "HHI"))
        self.u16 = struct.Struct(e + "H")
        self.u32 = struct.Struct(e + "I")
        self.little = little

    def header(self, pos: int) -> tuple[int, bytes | None, int, int]:
        """(tag, VR or None, value length, header length) of the element at ``pos``."""
        data = self.buf.data
        group, elem = self.tag_fmt.unpack_from(data, pos)
        tag = group << 16 | elem
        if group == 0xFFFE:  # item and delimiters: always tag + 4-byte length
            return tag, None, self.u32.unpack_from(data, pos + 4)[0], 8
        if not self.explicit:
            return tag, None, self.u32.unpack_from(data, pos + 4)[0], 8
        vr = data[pos + 4 : pos + 6]
        if vr in _LONG_VRS:
            if not self.buf.need(pos + 12):
                raise _TruncatedError("the header ends inside an element")
            return tag, vr, self.u32.unpack_from(self.buf.data, pos + 8)[0], 12
        if not (65 <= vr[0] <= 90 and 65 <= vr[1] <= 90):
            raise _SurpriseError(f"odd VR bytes {vr!r} at offset {pos}")
        return tag, vr, self.u16.unpack_from(data, pos + 6)[0], 8

    def skip_undefined(self, pos: int, implicit_inside: bool) -> int:
        """Skip an undefined-length sequence's items; return the offset after its end."""
        saved = self.explicit
        if implicit_inside:
            self.explicit = False
        try:
            while True:
                if not self.buf.need(pos + 8):
                    raise _TruncatedError("the file ends inside a sequence")
                tag, _vr, length, hlen = self.header(pos)
                pos += hlen
                if tag == _SEQ_END:
                    return pos
                if tag != _ITEM:
                    raise _SurpriseError(f"expected an item in a sequence at offset {pos - hlen}")
                pos = pos + length if length != _UNDEFINED else self.skip_item(pos)
        finally:
            self.explicit = saved

    def skip_item(self, pos: int) -> int:
        """Skip the elements of an undefined-length item up to its delimiter."""
        while True:
            if not self.buf.need(pos + 8):
                raise _TruncatedError("the file ends inside a sequence item")
            tag, vr, length, hlen = self.header(pos)
            pos += hlen
            if tag == _ITEM_END:
                return pos
            if length == _UNDEFINED:
                pos = self.skip_undefined(pos, implicit_inside=vr == b"UN")
            else:
                pos += length


class _TruncatedError(Exception):
    """The file ends before its header does."""


def _check_fragments(parser: _Parser, pos: int, path: str) -> None:
    """Walk the encapsulated fragments' item headers (not their data) to the end."""
    size = parser.buf.size
    item = struct.Struct("<HHI")
    while True:
        if pos + 8 > size:
            raise InvalidDicomError(
                "truncated: the encapsulated Pixel Data ends before its sequence delimiter",
                path=path,
            )
        head = parser.buf.read_at(pos, 8)
        group, elem, length = item.unpack(head)
        tag = group << 16 | elem
        pos += 8
        if tag == _SEQ_END:
            return
        if tag != _ITEM or length == _UNDEFINED:
            raise InvalidDicomError(
                f"broken encapsulated Pixel Data: expected an item at offset {pos - 8}",
                path=path,
            )
        if pos + length > size:
            raise InvalidDicomError(
                "truncated: a Pixel Data fragment runs past the end of the file", path=path
            )
        pos += length
