"""The one greedy packer: consecutive items into groups under a count and a size budget.

Every request or batch limit in the library (the API's 2048 inputs and token budgets, the
model's tokens per forward, a database's rows and bytes per request, the server's merged
batches, the index's points per batch) is the same problem: cut a sequence into consecutive
runs, each within a budget. An item larger than the budget goes alone; the caller decides
whether that is an error. Sizes in tokens come from the model's tokenizer where it is at hand,
else from the one estimate, :func:`estimate_tokens`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

__all__ = ["estimate_tokens", "pack"]


def pack(
    sizes: Iterable[int],
    *,
    max_items: int | None = None,
    max_size: int | None = None,
    base: int = 0,
    separator: int = 0,
) -> Iterator[range]:
    """Consecutive ranges of item indices, each of at most `max_items` items and `max_size`.

    A group costs ``base`` plus its items' sizes plus ``separator`` between two items (the
    joining space of a late-chunked request, say). Groups are yielded as soon as they close,
    so `sizes` may be a lazy stream.
    """
    start, total, i = 0, base, -1
    for i, size in enumerate(sizes):
        cost = size + (separator if i > start else 0)
        if i > start and (
            (max_items is not None and i - start >= max_items)
            or (max_size is not None and total + cost > max_size)
        ):
            yield range(start, i)
            start, total, cost = i, base, size
        total += cost
    if i >= start:
        yield range(start, i + 1)


def estimate_tokens(text: str) -> int:
    """Conservative token count without a tokenizer: ceil(UTF-8 bytes / 2).

    XLM-RoBERTa averages 3-5 bytes per token on Latin-script text and about 3 (one CJK
    character) elsewhere, so this is roughly twice the real count: never too low.
    """
    return (len(text.encode("utf-8", "surrogatepass")) + 1) // 2
