"""Spreadsheet cells that stay data when a person opens the file (formula injection).

A cell whose text starts with = + - @, a tab or a carriage return is run as a formula by
Excel, WPS or LibreOffice (or turned into one when someone edits it), so a citizen's title
``=HYPERLINK("http://evil.example","x")`` would become a live link beside columns of phone
numbers. OWASP's advice ("CSV Injection"): start such a cell with a single quote, which
every spreadsheet shows as plain text. Every export writes its text through `safe_cell`; an
import reads it back with `unsafe_cell`, so a round trip keeps the text as it was.

Stdlib only: the ticket, KPI, ranking and knowledge-base exports all use it.
"""

from typing import TypeVar

# What a spreadsheet takes as the start of a formula (OWASP CSV Injection, plus Excel's
# full-width ＝ and the line breaks that some readers strip before looking).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")
QUOTE = "'"

T = TypeVar("T")


def safe_cell(value: T) -> T | str:
    """`value` unchanged unless it is text a spreadsheet would run; then quoted.

    Text that already starts with a quote gets one more, so `unsafe_cell` can tell an
    added quote from one the author wrote.
    """
    if isinstance(value, str) and value.startswith((*FORMULA_STARTS, QUOTE)):
        return QUOTE + value
    return value


def unsafe_cell(value: T) -> T | str:
    """Undo `safe_cell`: drop the quote it added, and only that one."""
    if (
        isinstance(value, str)
        and value.startswith(QUOTE)
        and value[1:].startswith((*FORMULA_STARTS, QUOTE))
    ):
        return value[1:]
    return value
