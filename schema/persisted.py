"""Persisted documents: Apollo's automatic persisted queries and a trusted-documents manifest.

A request may name its document instead of sending it:

- `extensions.persistedQuery.sha256Hash` (Apollo APQ, version 1): the document registered
  under that hash. An unknown hash is answered `PersistedQueryNotFound` (code
  PERSISTED_QUERY_NOT_FOUND); the client then sends the document with the hash, which
  registers it once the hash is checked against it. Works over GET, so a CDN can cache it.
- `documentId` (GraphQL Codegen's client preset, Relay, the GraphQL-over-HTTP persisted
  documents proposal; "sha256:<hex>" or "<hex>"): a document of the manifest named by
  PARTNERDESK_TRUSTED_DOCUMENTS (`{hash: document}`, as those tools write it). Trusted
  documents also answer APQ look-ups.

With PARTNERDESK_TRUSTED_DOCUMENTS_ONLY=true only the manifest's documents run: any other
document text, and APQ registration, is refused before it is parsed.

The document found is the one the pipeline prepares (schema/pipeline.py), with the same
limits, plan cache and compiled reads as a document sent in full.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from graphql import GraphQLError

from config import ConfigError
from schema.lru import LRU

APQ_CAPACITY = 2000  # registered documents kept per process (least recently used dropped)
MAX_DOCUMENT_ID = 200

PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _hash_key(value: str) -> str:
    return value.removeprefix("sha256:").lower()


class DocumentRefused(Exception):
    """The request's document cannot be used; `error` says why (with a code)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.error = GraphQLError(message, extensions={"code": code})
        self.code = code


def not_found() -> DocumentRefused:
    # Apollo clients look for this message and this code, then send the document.
    return DocumentRefused("PersistedQueryNotFound", PERSISTED_QUERY_NOT_FOUND)


def load_manifest(path: str) -> dict[str, str]:
    """{hash: document} from a GraphQL Codegen / Relay persisted-documents manifest."""
    try:
        with open(path, encoding="utf-8") as manifest:
            raw = json.load(manifest)
    except (OSError, ValueError) as error:
        raise ConfigError(
            f"PARTNERDESK_TRUSTED_DOCUMENTS={path!r} cannot be read: {error}"
        ) from None
    if not isinstance(raw, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in raw.items()
    ):
        raise ConfigError(
            f"PARTNERDESK_TRUSTED_DOCUMENTS={path!r} must be a JSON object of hash -> document"
        )
    return {_hash_key(key): value for key, value in raw.items()}


class PersistedDocuments:
    """Finds the document text of a request: sent in full, by APQ hash, or by documentId."""

    def __init__(self, manifest: Mapping[str, str], trusted_only: bool) -> None:
        self.trusted = dict(manifest)
        self.trusted_texts = frozenset(self.trusted.values())
        self.trusted_only = trusted_only
        self.registered: LRU[str, str] = LRU(APQ_CAPACITY)

    def document(
        self, query: str | None, extensions: Mapping[str, Any] | None, document_id: str | None
    ) -> tuple[str | None, str | None]:
        """(the text to prepare or None, the APQ hash to register it under once it proved
        valid, if any); DocumentRefused when the request's document cannot be used."""
        persisted = (extensions or {}).get("persistedQuery")
        if document_id is not None:
            return self._by_id(document_id, query), None
        if persisted is not None:
            return self._by_apq(persisted, query)
        if query is not None and self.trusted_only and query not in self.trusted_texts:
            raise DocumentRefused(
                "Only trusted documents run here: send the documentId of a document from "
                "the manifest.",
                "PERSISTED_QUERY_NOT_IN_LIST",
            )
        return query, None

    def _by_id(self, document_id: str, query: str | None) -> str:
        if not isinstance(document_id, str) or len(document_id) > MAX_DOCUMENT_ID:
            raise DocumentRefused(
                "documentId must be a string such as sha256:<hex>.", "BAD_REQUEST"
            )
        text = self.trusted.get(_hash_key(document_id))
        if text is None:
            raise DocumentRefused(
                "No trusted document has this documentId.", "PERSISTED_QUERY_NOT_FOUND"
            )
        if query is not None and query != text:
            raise DocumentRefused("Send either a documentId or a query, not both.", "BAD_REQUEST")
        return text

    def _by_apq(self, persisted: Any, query: str | None) -> tuple[str, str | None]:
        if not isinstance(persisted, dict) or not isinstance(persisted.get("sha256Hash"), str):
            raise DocumentRefused(
                "extensions.persistedQuery needs a sha256Hash string.", "BAD_REQUEST"
            )
        if persisted.get("version", 1) != 1:
            raise DocumentRefused("Unsupported persisted query version.", "BAD_REQUEST")
        key = _hash_key(persisted["sha256Hash"])
        if query is None:
            text = self.trusted.get(key)
            if text is None and not self.trusted_only:
                _held, text = self.registered.find(key)
            if text is None:
                raise not_found()
            return text, None
        if sha256_hex(query) != key:
            raise DocumentRefused("provided sha does not match query", "BAD_REQUEST")
        if key in self.trusted:
            return query, None
        if self.trusted_only:
            raise DocumentRefused(
                "Only trusted documents run here: this document is not in the manifest.",
                "PERSISTED_QUERY_NOT_IN_LIST",
            )
        return query, key

    def register(self, key: str, text: str) -> None:
        """Keep a valid document under its (checked) APQ hash."""
        self.registered.put(key, text)
