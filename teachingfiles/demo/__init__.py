"""The built-in demo repository: RICORD-shaped synthetic cases plus real pydicom-data images.

:func:`build_demo` writes it to a folder, laid out like a TCIA download of RSNA
RICORD (``metadata.csv``, NBIA folders, MD.ai JSON, clinical sheets), so the rest
of the toolkit reads it exactly as it reads the real thing.

Example
-------
>>> from teachingfiles.demo import build_demo
>>> summary = build_demo("/tmp/demo")
>>> [c.name for c in summary.collections]
['DEMO-RICORD-1A', 'DEMO-RICORD-1B', 'DEMO-RICORD-1C', 'PYDICOM-DATA']
"""

from teachingfiles.demo.build import CollectionSummary, DemoSummary, build_demo
from teachingfiles.demo.specs import DEMO_COLLECTIONS

__all__ = ["DEMO_COLLECTIONS", "CollectionSummary", "DemoSummary", "build_demo"]
