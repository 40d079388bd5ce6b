"""Stage 2 of the data path: what is checked before training, returned as one value, the data report.

The images are listed (class folders or a label table, `listing.py`, `table.py`) and scanned (every problem
of the listing and every unreadable image reported at once, `scan.py`), the training images are split into
training and validation when nothing is marked val (`splits.py`), and every pair of images across the final
splits is compared for leakage (`fingerprint.py`, `duplicates.py`).
"""

from __future__ import annotations

from inception_tl.data.inspect.inspection import inspect_images
from inception_tl.data.inspect.listing import Listing, list_folder
from inception_tl.data.inspect.report import DataReport
from inception_tl.data.inspect.table import list_table
from inception_tl.data.options import TableColumns

__all__ = ["DataReport", "Listing", "TableColumns", "inspect_images", "list_folder", "list_table"]
