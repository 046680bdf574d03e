"""Keyed pseudonyms for patient ids, for outputs sent outside the compliance team.

A pseudonym is an HMAC-SHA256 of the patient id under a secret key from the
environment: the same key gives the same pseudonym in every run and every file, so a
recipient can follow one patient across reports without learning who it is, and
without the key nobody can test a guessed id against it. The store keeps real ids.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl

from pipeline.errors import UsageError

KEY_VARIABLE = "PTAUDIT_PSEUDONYM_KEY"
PREFIX = "PX-"
# An id is replaced in free text only where it stands as a whole token, so "P1" is
# not taken out of "P12" or a code that happens to contain it.
TOKEN_EDGE = r"[A-Za-z0-9_-]"


@dataclass(frozen=True)
class Pseudonymizer:
    key: bytes

    @classmethod
    def from_environment(cls) -> Pseudonymizer:
        key = os.environ.get(KEY_VARIABLE, "")
        if not key:
            raise UsageError(f"--pseudonymize needs a secret key in the {KEY_VARIABLE} variable")
        return cls(key.encode())

    def pseudonym(self, patient_id: str) -> str:
        digest = hmac.new(self.key, patient_id.encode(), hashlib.sha256).hexdigest()
        return PREFIX + digest[:20]

    def column(self, ids: pl.Series) -> pl.Series:
        """Each distinct id is hashed once, however many rows carry it."""
        mapping = {value: self.pseudonym(value) for value in ids.drop_nulls().unique()}
        return ids.replace_strict(mapping, default=None, return_dtype=pl.String)

    def text(self, texts: pl.Series, known_ids: Iterable[str]) -> pl.Series:
        """Free text (finding messages) with every known patient id in it replaced.

        Most messages name no patient; a vectorised search finds the few that contain
        an id, and only those are rewritten.
        """
        ids = sorted(set(known_ids), key=len, reverse=True)
        if not ids or texts.is_empty():
            return texts
        found = texts.str.extract_many(ids, overlapping=True)
        rewritten = {
            text: self._replace_ids(text, set(matches))
            for text, matches in zip(texts, found, strict=True)
            if matches is not None and len(matches)
        }
        return texts.replace(rewritten) if rewritten else texts

    def _replace_ids(self, text: str, ids: set[str]) -> str:
        for patient_id in sorted(ids, key=len, reverse=True):
            pattern = rf"(?<!{TOKEN_EDGE}){re.escape(patient_id)}(?!{TOKEN_EDGE})"
            text = re.sub(pattern, self.pseudonym(patient_id), text)
        return text


def pseudonymize(
    frame: pl.DataFrame, pseudonyms: Pseudonymizer, known_ids: Iterable[str] = ()
) -> pl.DataFrame:
    """A frame's patient_id column (and message text, when it has one) pseudonymized."""
    replaced = []
    if "patient_id" in frame.columns:
        replaced.append(pseudonyms.column(frame["patient_id"]))
    if "message" in frame.columns:
        replaced.append(pseudonyms.text(frame["message"], known_ids))
    return frame.with_columns(replaced) if replaced else frame


def pseudonymize_rejects(rejects: pl.DataFrame, pseudonyms: Pseudonymizer) -> pl.DataFrame:
    """Rejected rows name a bad value; where that value is a patient id, it is hashed."""
    hashed = pseudonyms.column(rejects["value"])
    return rejects.with_columns(
        pl.when(pl.col("column") == "patient_id")
        .then(hashed)
        .otherwise(pl.col("value"))
        .alias("value")
    )
