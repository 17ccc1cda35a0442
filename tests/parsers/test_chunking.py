"""Chunking with the embedding model's real tokenizer: size limits, overlap, provenance."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest

from parsers.chunking import indexed_text, split_into_chunks
from parsers.registry import parse_document
from parsers.types import Chunk, Page, ParsedDocument, Section

Reader = Callable[[str], bytes]
Counter = Callable[[str], int]

MODEL_LIMIT = 256  # all-MiniLM-L6-v2 reads at most 256 word pieces, [CLS] and [SEP] included


def text_document(text: str, heading: str | None = None) -> ParsedDocument:
    return ParsedDocument(
        filename="notes.txt",
        media_type="text/plain",
        pages=(Page(1, text),),
        sections=(Section(text, page=None, heading=heading),),
        paginated=False,
    )


def chunk_sample(
    read_sample: Reader, name: str, count_tokens: Counter, size: int, overlap: int
) -> list[Chunk]:
    document = parse_document(read_sample(name), name)
    return split_into_chunks(document, count_tokens, size, overlap)


def containing(chunks: list[Chunk], needle: str) -> list[Chunk]:
    return [chunk for chunk in chunks if needle in chunk.text]


NUMBERED = " ".join(
    f"Sentence {n} says that item {n} weighs {n * 7 % 23} kilograms." for n in range(400)
)


@pytest.mark.parametrize(
    "name",
    ["pdflatex-4-pages.pdf", "pdflatex-outline.pdf", "three_pages.pdf", "guide.md", "latin1.txt"],
)
@pytest.mark.parametrize("size", [32, 128, MODEL_LIMIT])
def test_no_chunk_exceeds_the_token_limit(
    read_sample: Reader, count_tokens: Counter, name: str, size: int
) -> None:
    chunks = chunk_sample(read_sample, name, count_tokens, size, overlap=size // 8)

    assert chunks
    assert max(count_tokens(indexed_text(chunk)) for chunk in chunks) <= size


def test_chunks_are_filled_close_to_the_limit(read_sample: Reader, count_tokens: Counter) -> None:
    chunks = chunk_sample(read_sample, "pdflatex-4-pages.pdf", count_tokens, MODEL_LIMIT, 32)

    sizes = [count_tokens(indexed_text(chunk)) for chunk in chunks]
    # Per-piece [CLS]/[SEP] must not be counted again and again: chunks, with their context
    # header, use most of the room.
    assert sum(sizes[:-1]) / len(sizes[:-1]) > 0.75 * MODEL_LIMIT


def test_counter_without_special_tokens_gets_the_same_guarantee(
    read_sample: Reader, count_tokens: Counter
) -> None:
    def word_pieces(text: str) -> int:  # what tokenizer.tokenize() counts
        return count_tokens(text) - 2

    chunks = chunk_sample(read_sample, "pdflatex-4-pages.pdf", word_pieces, MODEL_LIMIT - 2, 32)

    sizes = [word_pieces(indexed_text(chunk)) for chunk in chunks]
    assert max(sizes) <= MODEL_LIMIT - 2
    assert sum(sizes[:-1]) / len(sizes[:-1]) > 0.75 * MODEL_LIMIT


def test_chunk_with_page_two_sentence_points_at_page_two(
    read_sample: Reader, count_tokens: Counter
) -> None:
    for size in (24, 40, MODEL_LIMIT):
        chunks = chunk_sample(read_sample, "three_pages.pdf", count_tokens, size, overlap=4)
        hits = containing(chunks, "smoked paprika")
        assert hits, f"size {size}: the sentence was lost"
        for chunk in hits:
            assert chunk.page_start is not None and chunk.page_end is not None
            assert chunk.page_start <= 2 <= chunk.page_end


def test_small_pages_share_one_chunk_that_spans_them(
    read_sample: Reader, count_tokens: Counter
) -> None:
    chunks = chunk_sample(read_sample, "three_pages.pdf", count_tokens, MODEL_LIMIT, 32)

    assert len(chunks) == 1
    assert (chunks[0].page_start, chunks[0].page_end) == (1, 3)
    assert "长江大桥" in chunks[0].text


def test_real_pdf_section_is_cited_with_its_page(
    read_sample: Reader, count_tokens: Counter
) -> None:
    chunks = chunk_sample(read_sample, "pdflatex-outline.pdf", count_tokens, MODEL_LIMIT, 32)

    (contents,) = containing(chunks, "Contents")
    assert contents.page_start == 1
    section_8 = containing(chunks, "8 Bar\nHello")
    assert section_8
    assert all(chunk.page_start == chunk.page_end == 4 for chunk in section_8)


def test_every_page_of_a_real_pdf_is_covered_in_order(
    read_sample: Reader, count_tokens: Counter
) -> None:
    chunks = chunk_sample(read_sample, "pdflatex-4-pages.pdf", count_tokens, 128, 16)

    ranges = [(chunk.page_start, chunk.page_end) for chunk in chunks]
    assert all(start is not None and end is not None for start, end in ranges)
    spans = [(int(start or 0), int(end or 0)) for start, end in ranges]
    assert spans == sorted(spans)
    assert {page for start, end in spans for page in range(start, end + 1)} == {1, 2, 3, 4}
    assert [chunk.ordinal for chunk in chunks] == list(range(len(chunks)))


def test_markdown_chunks_carry_their_heading_path(
    read_sample: Reader, count_tokens: Counter
) -> None:
    chunks = chunk_sample(read_sample, "guide.md", count_tokens, MODEL_LIMIT, 32)

    (install,) = containing(chunks, "pip install docrag")
    assert install.heading == "Docrag Guide > Install"
    (requirements,) = containing(chunks, "Python 3.11 or newer")
    assert requirements.heading == "Docrag Guide > Install > Requirements"
    (licence,) = containing(chunks, "MIT licence")
    assert licence.heading == "Appendix > Licence"
    assert all(chunk.page_start is None and chunk.page_end is None for chunk in chunks)
    assert [chunk.ordinal for chunk in chunks] == list(range(len(chunks)))


def test_long_markdown_section_keeps_its_heading_on_every_chunk(count_tokens: Counter) -> None:
    body = "\n\n".join(f"Paragraph {n} explains step {n} of the setup." for n in range(80))
    document = ParsedDocument(
        filename="setup.md",
        media_type="text/markdown",
        pages=(Page(1, body),),
        sections=(Section("# Setup\n\nshort", None, "Setup"), Section(body, None, "Setup > Steps")),
        paginated=False,
    )
    chunks = split_into_chunks(document, count_tokens, 64, 8)

    assert chunks[0].heading == "Setup"
    assert len(chunks) > 5
    assert {chunk.heading for chunk in chunks[1:]} == {"Setup > Steps"}


def test_consecutive_chunks_overlap(count_tokens: Counter) -> None:
    chunks = split_into_chunks(text_document(NUMBERED), count_tokens, 128, overlap=32)

    assert len(chunks) > 10
    for previous, current in zip(chunks, chunks[1:], strict=False):
        first_sentence = current.text.split(". ")[0]
        assert first_sentence in previous.text, "the next chunk should repeat the previous tail"
        assert not previous.text.startswith(first_sentence)


def test_without_overlap_nothing_is_repeated(count_tokens: Counter) -> None:
    chunks = split_into_chunks(text_document(NUMBERED), count_tokens, 128, overlap=0)

    assert " ".join(chunk.text for chunk in chunks) == NUMBERED


def test_chunks_never_split_inside_a_word(count_tokens: Counter) -> None:
    chunks = split_into_chunks(text_document(NUMBERED), count_tokens, 50, overlap=10)

    words = set(NUMBERED.split())
    for chunk in chunks:
        assert set(chunk.text.split()) <= words


def test_chinese_without_spaces_is_chunked_under_the_limit(
    read_sample: Reader, count_tokens: Counter
) -> None:
    sentences = parse_document(read_sample("chinese_gbk.txt"), "chinese_gbk.txt").pages[0].text
    # Repeated text, and a long run with no punctuation at all, as in scraped pages.
    text = sentences * 8 + re.sub(r"[，。、]", "", sentences) * 4
    chunks = split_into_chunks(text_document(text), count_tokens, MODEL_LIMIT, overlap=0)

    assert len(chunks) > 3
    assert max(count_tokens(indexed_text(chunk)) for chunk in chunks) <= MODEL_LIMIT
    assert "".join(chunk.text for chunk in chunks) == text  # no character lost


def test_chinese_chunks_break_after_sentence_ends(
    read_sample: Reader, count_tokens: Counter
) -> None:
    sentences = parse_document(read_sample("chinese_gbk.txt"), "chinese_gbk.txt").pages[0].text
    chunks = split_into_chunks(text_document(sentences * 6), count_tokens, 100, overlap=20)

    assert all(chunk.text.endswith("。") for chunk in chunks)


def test_a_word_longer_than_the_limit_is_cut_but_its_neighbours_are_not() -> None:
    text = "alpha beta gamma " + "x" * 120 + " delta epsilon"
    chunks = split_into_chunks(text_document(text), len, size=50, overlap=0)

    assert max(len(chunk.text) for chunk in chunks) <= 50
    assert "".join(chunk.text.replace(" ", "") for chunk in chunks) == text.replace(" ", "")
    assert chunks[0].text == "alpha beta gamma"
    assert chunks[-1].text.endswith("delta epsilon")


def test_limit_holds_even_when_joined_text_counts_more_than_its_parts() -> None:
    # A counter where a string costs more than its pieces: the splitter's sums underestimate
    # its merged chunks, and the re-split has to catch them.
    def superadditive(text: str) -> int:
        return len(text) + (len(text) // 30) ** 2

    text = " ".join(f"word{n}" for n in range(500))
    chunks = split_into_chunks(text_document(text), superadditive, size=100, overlap=0)

    assert max(superadditive(chunk.text) for chunk in chunks) <= 100
    assert " ".join(chunk.text for chunk in chunks) == text


def test_whitespace_only_sections_make_no_chunks(count_tokens: Counter) -> None:
    document = ParsedDocument(
        filename="a.pdf",
        media_type="application/pdf",
        pages=(Page(1, " \n "), Page(2, "Real text.")),
        sections=(Section(" \n ", 1, None), Section("Real text.", 2, None)),
        paginated=True,
    )
    chunks = split_into_chunks(document, count_tokens, 64, 8)

    assert [(c.ordinal, c.text, c.page_start, c.page_end) for c in chunks] == [
        (0, "Real text.", 2, 2)
    ]


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (-5, 0), (100, -1), (100, 100), (10, 20)])
def test_invalid_sizes_are_refused(count_tokens: Counter, size: int, overlap: int) -> None:
    with pytest.raises(ValueError):
        split_into_chunks(text_document("text"), count_tokens, size, overlap)


def test_size_with_no_room_after_special_tokens_is_refused(count_tokens: Counter) -> None:
    with pytest.raises(ValueError, match="no room"):
        split_into_chunks(text_document("text"), count_tokens, 2, 0)  # [CLS] + [SEP] = 2


def test_three_hundred_pages_chunk_in_seconds(read_sample: Reader, count_tokens: Counter) -> None:
    real = parse_document(read_sample("pdflatex-4-pages.pdf"), "pdflatex-4-pages.pdf")
    pages = tuple(Page(n, real.pages[n % 4].text) for n in range(1, 301))
    document = ParsedDocument(
        filename="long.pdf",
        media_type="application/pdf",
        pages=pages,
        sections=tuple(Section(p.text, p.number, None) for p in pages),
        paginated=True,
    )

    started = time.perf_counter()
    chunks = split_into_chunks(document, count_tokens, MODEL_LIMIT, 32)
    elapsed = time.perf_counter() - started

    assert len(chunks) > 300
    assert chunks[-1].page_end == 300
    assert elapsed < 30, f"chunking 300 pages took {elapsed:.1f}s"
