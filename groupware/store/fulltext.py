"""The full-text index on message texts (created by migration 0005, outside the models) and
the prefilter that narrows a substring search with it. Change both sides in one revision.

SQLite keeps an FTS5 table (tokenizer unicode61) in step with message_texts by triggers;
PostgreSQL has a GIN index on `to_tsvector('simple', ...)` of headers and body. IMAP wants
substrings, the indexes hold whole words, so a prefilter only ever asks for words that
every text containing the substring must hold as words too:

- SQLite (unicode61 splits on every ASCII character that is not a letter or digit): an
  ASCII letter/digit run of the needle with such a character on both sides is a whole
  word of the text; the last run, with one on its left, is the start of one (`"run"*`).
- PostgreSQL's parser reads e-mail addresses, hosts, URLs and hyphenated words as single
  tokens, so only runs with ASCII whitespace on both sides are safe (no prefixes). The
  index reads "<" as a space (else "<a b c>" is one "tag" token whose words are lost),
  and texts over OVERLONG_AFTER characters are indexed as the one word OVERLONG, which
  every prefilter also accepts (a tsvector over 1 MB is an error, which would refuse mail).

Runs of letters outside ASCII are left out (case folding differs between the engines),
as are runs shorter than MIN_WORD. The caller still tests the substring on every row the
prefilter lets through; with no usable run there is no prefilter at all.

The webmail's search box asks for words, not substrings (`word_match`): each word must
start a word of the text, and the index alone answers (FTS5 `"word"*`, tsquery
`'word':*`), but for PostgreSQL's overlong texts, which the caller tests itself.

A later migration that copies message_texts (SQLite batch mode) must create the FTS
triggers again; `include_name` keeps these objects out of autogenerate comparisons.
"""

from __future__ import annotations

import re
import string
from typing import Any, Literal

from sqlalchemy import ColumnElement, bindparam, column, func, literal_column, select, table

from groupware.model.mail import Message

SQLITE_TABLE = "message_texts_fts"
POSTGRES_INDEX = "ix_message_texts_fulltext"
OVERLONG = "gwoverlong"
OVERLONG_AFTER = 100_000
MIN_WORD = 3
MAX_WORD = 200  # PostgreSQL skips lexemes over 2047 bytes; no need to ask for them

# The indexed expression of migration 0005, over the alias `fulltext` (the planner
# matches the index only when the query repeats it exactly).
_PG_DOCUMENT = (
    "to_tsvector('simple'::regconfig, CASE WHEN length(fulltext.headers) + "
    f"length(fulltext.body) < {OVERLONG_AFTER} THEN translate(fulltext.headers || ' ' || "
    f"fulltext.body, '<', ' ') ELSE '{OVERLONG}' END)"
)
_ALNUM = frozenset(string.ascii_letters + string.digits)
_WORD = re.compile(r"[^\W_]+")  # letters and digits of any script: what both indexes split on
MAX_WORDS = 20
_PG_SPACE = frozenset(" \t\r\n")

Where = Literal["text", "body", "headers"]


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic's `include_name` hook: leave the full-text objects out of autogenerate
    (they are not in the models; a comparison would offer to drop them)."""
    if type_ == "table" and name is not None and name.startswith(SQLITE_TABLE):
        return False  # the FTS5 table and its shadow tables (_data, _idx, _config)
    return not (type_ == "index" and name == POSTGRES_INDEX)


def prefilter(dialect: str, needle: str, where: Where) -> ColumnElement[bool] | None:
    """A condition on Message.id that every message whose text (`where`: headers and
    body, body only, headers only) contains `needle` meets; None when the index cannot
    narrow the search for this needle."""
    if dialect == "sqlite":
        return _sqlite(needle, where)
    if dialect == "postgresql":
        return _postgres(needle)
    return None


def sqlite_terms(needle: str) -> list[str]:
    """FTS5 query terms ('"word"', '"start"*') implied by containing `needle`."""
    terms = []
    for start, end in _runs(needle):
        word = needle[start:end].lower()
        # Runs are maximal: an ASCII neighbour is a separator, any other may be a letter.
        if not MIN_WORD <= len(word) <= MAX_WORD or start == 0 or not needle[start - 1].isascii():
            continue
        if end == len(needle):
            terms.append(f'"{word}"*')
        elif needle[end].isascii():
            terms.append(f'"{word}"')
    return terms


def postgres_terms(needle: str) -> list[str]:
    """Words that any text containing `needle` holds as whitespace-bounded words."""
    return [
        needle[start:end].lower()
        for start, end in _runs(needle)
        if MIN_WORD <= end - start <= MAX_WORD
        and start > 0
        and end < len(needle)
        and needle[start - 1] in _PG_SPACE
        and needle[end] in _PG_SPACE
    ]


def _runs(needle: str) -> list[tuple[int, int]]:
    """(start, end) of each maximal run of ASCII letters and digits."""
    runs = []
    start = None
    for index, char in enumerate(needle):
        if char in _ALNUM:
            if start is None:
                start = index
        elif start is not None:
            runs.append((start, index))
            start = None
    if start is not None:
        runs.append((start, len(needle)))
    return runs


def _sqlite(needle: str, where: Where) -> ColumnElement[bool] | None:
    terms = sqlite_terms(needle)
    if not terms:
        return None
    column_filter = "" if where == "text" else f"{where} : "
    query = " AND ".join(column_filter + term for term in terms)
    fts = table(SQLITE_TABLE, column("rowid"), column(SQLITE_TABLE))
    matches = select(fts.c.rowid).where(
        fts.c[SQLITE_TABLE].op("MATCH")(bindparam(None, query, unique=True))
    )
    return Message.id.in_(matches)


def _postgres(needle: str) -> ColumnElement[bool] | None:
    words = postgres_terms(needle)
    if not words:
        return None
    texts = table("message_texts", column("message_id")).alias("fulltext")
    simple: ColumnElement[Any] = literal_column("'simple'::regconfig")
    query = func.plainto_tsquery(simple, bindparam(None, " ".join(words), unique=True))
    wanted = query.op("||")(literal_column(f"'{OVERLONG}'::tsquery"))
    matches = select(texts.c.message_id).where(literal_column(_PG_DOCUMENT).op("@@")(wanted))
    return Message.id.in_(matches)


def words(text: str) -> list[str]:
    """The words of a search box's text, lower case, each once (at most MAX_WORDS)."""
    found = [w.lower() for w in _WORD.findall(text) if len(w) <= MAX_WORD]
    return list(dict.fromkeys(found))[:MAX_WORDS]


def word_match(
    dialect: str, wanted: list[str]
) -> tuple[ColumnElement[bool], ColumnElement[bool] | None]:
    """(messages whose text has a word starting with each of `wanted`, by the index;
    messages the index cannot answer for, which the caller must test: None on SQLite,
    whose FTS5 table holds every text)."""
    if dialect == "sqlite":
        terms = " AND ".join(f'"{word}"*' for word in wanted)  # words hold no quote
        fts = table(SQLITE_TABLE, column("rowid"), column(SQLITE_TABLE))
        found = select(fts.c.rowid).where(
            fts.c[SQLITE_TABLE].op("MATCH")(bindparam(None, terms, unique=True))
        )
        return Message.id.in_(found), None
    texts = table("message_texts", column("message_id")).alias("fulltext")
    simple: ColumnElement[Any] = literal_column("'simple'::regconfig")
    document: ColumnElement[Any] = literal_column(_PG_DOCUMENT)
    prefixes = " & ".join(f"'{word}':*" for word in wanted)  # words hold no quote
    query = func.to_tsquery(simple, bindparam(None, prefixes, unique=True))
    matches = select(texts.c.message_id).where(document.op("@@")(query))
    overlong = select(texts.c.message_id).where(
        document.op("@@")(literal_column(f"'{OVERLONG}'::tsquery"))
    )
    return Message.id.in_(matches), Message.id.in_(overlong)
