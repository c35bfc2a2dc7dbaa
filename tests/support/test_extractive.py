"""The extractive answer's excerpt: contiguous sentences around the best one."""

import pytest

from support.answering.extractive import excerpt_window


@pytest.mark.parametrize(
    ("scores", "best", "size", "window"),
    [
        ([0.1, 0.9, 0.5, 0.2], 1, 1, (1, 2)),  # one sentence: the best alone
        ([0.1, 0.9, 0.5, 0.2], 1, 2, (1, 3)),  # the pair takes the better neighbour (after)
        ([0.6, 0.9, 0.5, 0.2], 1, 2, (0, 2)),  # ... or the one before
        ([0.6, 0.9, 0.5, 0.2], 1, 3, (0, 3)),  # three: grows on both sides
        ([0.3, 0.9, 0.3], 1, 2, (1, 3)),  # a tie goes to the sentence after
        ([0.9, 0.1, 0.1, 0.1], 0, 3, (0, 3)),  # at the start it can only grow forwards
        ([0.1, 0.1, 0.9], 2, 3, (0, 3)),  # at the end only backwards
        ([0.2, 0.9], 1, 5, (0, 2)),  # a short chunk gives what it has
        ([0.9], 0, 3, (0, 1)),
    ],
)
def test_window_grows_towards_the_better_neighbour(
    scores: list[float], best: int, size: int, window: tuple[int, int]
) -> None:
    assert excerpt_window(scores, best, size) == window
