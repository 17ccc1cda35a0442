"""The question path, in the order it runs: retrieval, selection, prompting, answering."""
