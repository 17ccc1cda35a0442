"""Plain text files: encodings are detected, never assumed."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from parsers.errors import CorruptDocument, EmptyDocument, UnsupportedFileType
from parsers.text import TextParser, decode_text
from parsers.types import Page, Section

Reader = Callable[[str], bytes]


def test_utf8_file_is_one_unpaginated_page_with_unix_newlines(read_sample: Reader) -> None:
    document = TextParser().parse(read_sample("notes_utf8.txt"), "notes_utf8.txt")

    text = "Meeting notes\n\nThe café opens at eight.\nBring the 2024 report.\n"
    assert document.media_type == "text/plain"
    assert not document.paginated
    assert document.pages == (Page(number=1, text=text),)
    assert document.sections == (Section(text=text, page=None, heading=None),)
    assert document.metadata["encoding"] == "utf-8"


def test_gbk_chinese_file_decodes_to_the_right_characters(read_sample: Reader) -> None:
    document = TextParser().parse(read_sample("chinese_gbk.txt"), "chinese_gbk.txt")

    text = document.pages[0].text
    assert text.startswith("长江是中国最长的河流，全长约六千三百公里。")
    assert "三峡工程是世界上规模最大的水利枢纽之一" in text
    assert document.metadata["encoding"] == "gb18030"


@pytest.mark.parametrize(
    "phrase",
    [
        "你好世界",
        "长江大桥",
        "韩国重大踩踏悲剧震惊世界",  # the detector alone reads these as Korean (cp949)
        "报道称，当晚共有数千名民",
        "据印度媒体5月30日报道",
    ],
)
def test_short_gbk_phrases_are_read_as_chinese(phrase: str) -> None:
    assert decode_text(phrase.encode("gbk")) == phrase


def test_gb18030_characters_outside_gbk_decode() -> None:
    text = "欧元符号€与生僻字𠀀"  # € and U+20000 need GB18030's four-byte codes
    assert decode_text(text.encode("gb18030")) == text


def test_utf16_file_with_bom(read_sample: Reader) -> None:
    document = TextParser().parse(read_sample("utf16_bom.txt"), "utf16_bom.txt")

    assert document.pages[0].text == "UTF-16 notes: naïve café, 北京欢迎你。\n"
    assert document.metadata["encoding"] == "utf-16"


@pytest.mark.parametrize("codec", ["utf-8-sig", "utf-16-be", "utf-32"])
def test_other_byte_order_marks(codec: str) -> None:
    text = "Résumé: 北京\r\nline two"
    data = text.encode(codec)
    if codec == "utf-16-be":
        data = b"\xfe\xff" + data  # the -be codec writes no BOM itself

    assert decode_text(data) == "Résumé: 北京\nline two"


def test_latin1_file_keeps_its_accents(read_sample: Reader) -> None:
    document = TextParser().parse(read_sample("latin1.txt"), "latin1.txt")

    assert (
        document.pages[0].text == "Le café était très agréable, près de la fenêtre. À bientôt !\n"
    )


def test_windows_1252_quotes_and_euro_sign() -> None:
    text = "“Smart quotes” cost 5 € – a bargain"
    assert decode_text(text.encode("cp1252")) == text


def test_zip_named_txt_is_refused_as_not_text(read_sample: Reader) -> None:
    with pytest.raises(UnsupportedFileType) as caught:
        TextParser().parse(read_sample("archive_renamed.txt"), "archive_renamed.txt")

    assert caught.value.code == "unsupported_file_type"
    assert "ZIP archive" in str(caught.value)


def test_bytes_with_nul_and_no_bom_are_binary() -> None:
    with pytest.raises(UnsupportedFileType, match="binary file"):
        decode_text(b"abc\x00\x01\x02def")


def test_truncated_utf16_is_reported_as_damaged() -> None:
    data = "Cut mid-character".encode("utf-16")[:-1]

    with pytest.raises(CorruptDocument, match="damaged or truncated"):
        TextParser().parse(data, "cut.txt")


@pytest.mark.parametrize("name", ["empty.txt", "whitespace_only.md"])
def test_empty_or_whitespace_file(read_sample: Reader, name: str) -> None:
    with pytest.raises(EmptyDocument) as caught:
        TextParser().parse(read_sample(name), name)

    assert caught.value.code == "empty_document"
    assert name in str(caught.value)


def test_whitespace_in_utf16_is_still_empty() -> None:
    with pytest.raises(EmptyDocument):
        TextParser().parse(" \n\t ".encode("utf-16"), "blank.txt")
