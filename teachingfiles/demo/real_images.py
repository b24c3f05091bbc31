"""Real images for the demo: DICOM files shipped by ``pydicom-data`` and pydicom.

These are copied byte for byte (never re-encoded, never given an invented history)
into the ``PYDICOM-DATA`` collection, laid out as an NBIA download. Where a file
exists in several encodings, the lossless JPEG 2000 one is taken: it is smaller
than the uncompressed original and keeps every pixel value. Origins are as pydicom
documents them in ``pydicom/data/test_files/README.txt``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["REAL_IMAGES", "RealImage"]

_PYDICOM_DATA_LICENCE = "MIT (pydicom-data package licence)"
_PYDICOM_LICENCE = "MIT (pydicom package licence)"
_NEMA_WG04 = "NEMA WG04 compressed sample set, ftp://medical.nema.org/MEDICAL/Dicom/DataSets/WG04"


@dataclass(frozen=True)
class RealImage:
    """One real DICOM file taken into the demo, with what is known of it.

    ``package`` is ``"pydicom-data"`` (module ``data_store``) or ``"pydicom"``
    (its own test files); ``what`` says plainly what the image shows, as its own
    headers or documentation state, and nothing more.
    """

    file_name: str
    package: str
    what: str
    origin: str
    licence: str

    @property
    def path(self) -> Path:
        """Where the installed package keeps the file (nothing is downloaded)."""
        if self.package == "pydicom-data":
            import data_store  # the pydicom-data distribution's module

            return Path(data_store.__file__).parent / "data" / self.file_name
        import pydicom.data

        return Path(pydicom.data.__file__).parent / "test_files" / self.file_name


#: The real images of the ``PYDICOM-DATA`` collection.
REAL_IMAGES: tuple[RealImage, ...] = (
    RealImage(
        "RG1_J2KR.dcm",
        "pydicom-data",
        "Frontal chest radiograph (CR, Philips, MONOCHROME1, 1955x1841) with multiple "
        "rounded opacities; StudyDescription 'THORAX'. JPEG 2000 lossless.",
        _NEMA_WG04,
        _PYDICOM_DATA_LICENCE,
    ),
    RealImage(
        "RG3_J2KR.dcm",
        "pydicom-data",
        "Radiograph of the tibia (CR, FUJI, MONOCHROME1, 1760x1760); StudyDescription "
        "'Non-ossifying fibroma of distal tibia'. JPEG 2000 lossless.",
        _NEMA_WG04,
        _PYDICOM_DATA_LICENCE,
    ),
    RealImage(
        "MR2_J2KR.dcm",
        "pydicom-data",
        "MR of the shoulder (Philips, 1024x1024); StudyDescription 'SHOULDER'. JPEG 2000 lossless.",
        _NEMA_WG04,
        _PYDICOM_DATA_LICENCE,
    ),
    RealImage(
        "US1_J2KR.dcm",
        "pydicom-data",
        "Ultrasound image (G.E. Medical Systems, colour, 640x480). JPEG 2000 lossless.",
        _NEMA_WG04,
        _PYDICOM_DATA_LICENCE,
    ),
    RealImage(
        "693_J2KR.dcm",
        "pydicom-data",
        "One axial slice of a non-contrast head CT (512x512), SeriesDescription "
        "'5/5mm Plain'. JPEG 2000 lossless.",
        "pydicom regression dataset for issue #693 (BitsStored differs from the "
        "JPEG 2000 sample depth); its PatientID 'CQ500-CT-310' suggests the public "
        "CQ500 head CT dataset (qure.ai), whose own terms are CC BY-NC-SA 4.0",
        _PYDICOM_DATA_LICENCE,
    ),
    RealImage(
        "CT_small.dcm",
        "pydicom",
        "One CT slice (GE, downsized by pydicom to 128x128). Explicit VR Little Endian.",
        "pydicom test file, downsized from 'CT1_UNC' of the " + _NEMA_WG04,
        _PYDICOM_LICENCE,
    ),
)
