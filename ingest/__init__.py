"""Embedding, storage and the ingest pipeline: chunks in, searchable vectors out."""
