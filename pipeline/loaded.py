"""Exports the store has seen: an export loaded before is skipped, and a file loaded
again under the same path with other content is said to be a new version.

An export is known by its SHA-256. Skipping it is safe because loading is idempotent:
the same content again would add nothing. One exception keeps the store honest: when
the path's latest load held other content (A, then B, then A again), the file is
loaded, since the store holds B's values for its rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from pipeline.ingest import RawInput

LOADED, SKIPPED = "loaded", "skipped"

# The loads of the same path or the same content, latest first. Inputs of stores
# written before loads were compared have no status: loaded, but with no input scope
# recorded, so they never stand in for a skipped file. (The run being loaded is not
# among them: its inputs are recorded when it stores them; pipeline/run.py tells a copy
# of a file it already read.)
EARLIER_LOADS = """
SELECT i.run_id, i.source_file, i.checksum, i.status
FROM run_inputs AS i JOIN runs AS r USING (run_id)
WHERE i.kind = $kind AND coalesce(i.status, 'loaded') = 'loaded'
    AND (i.source_file = $source_file OR i.checksum = $checksum)
ORDER BY r.loaded_at DESC NULLS FIRST, i.rowid DESC
"""


@dataclass(frozen=True)
class History:
    """What earlier loads mean for one export."""

    # The run that loaded this very content, when the file is skipped.
    loaded_in_run: str | None
    # The run that last loaded other content under this path.
    previous_version_run: str | None

    @property
    def skipped(self) -> bool:
        return self.loaded_in_run is not None

    def note(self, source_file: str) -> str | None:
        """What the summary, the report and the log say about the file."""
        if self.loaded_in_run:
            return f"already loaded in run {self.loaded_in_run}, skipped"
        if self.previous_version_run:
            return (
                f"new version of {source_file}; "
                f"previous version loaded in run {self.previous_version_run}"
            )
        return None


def history(con: duckdb.DuckDBPyConnection, raw: RawInput) -> History:
    source_file = str(raw.path)
    rows = con.execute(
        EARLIER_LOADS,
        {"kind": raw.kind.name, "source_file": source_file, "checksum": raw.checksum},
    ).fetchall()
    same_path = next((row for row in rows if row[1] == source_file), None)
    same_content = next((row for row in rows if row[2] == raw.checksum and row[3] == LOADED), None)
    path_changed = same_path is not None and same_path[2] != raw.checksum
    return History(
        loaded_in_run=same_content[0] if same_content and not path_changed else None,
        previous_version_run=same_path[0] if path_changed else None,
    )
