"""The docrag service: HTTP API, retrieval, reranking, prompting, chat model and CLI."""
