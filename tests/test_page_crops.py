"""samples/page_crops.py: pipeline crops of synthetic pages, labelled from the page generator's truth."""

from __future__ import annotations

import numpy as np

from pipeline.config import Config
from samples.page_crops import page_crops
from samples.synth import STYLES, render_page


def test_truth_names_the_image_of_every_digit(mnist_test) -> None:  # type: ignore[no-untyped-def]
    x, y = mnist_test
    for k, style in enumerate(STYLES):  # every frame: free writing, rules, boxes, combs
        _, truth = render_page(np.random.default_rng(k), x, y, style)
        assert truth
        for t in truth:
            assert len(t.sources) == len(t.text)
            assert [int(y[s]) for s in t.sources] == [int(c) for c in t.text]


def test_crops_carry_the_digit_and_image_they_were_drawn_from(mnist_test, classifier) -> None:  # type: ignore[no-untyped-def]
    x, y = mnist_test
    image, truth = render_page(np.random.default_rng(5), x, y, "clean")
    crops, labels, sources = page_crops(image, truth, Config(), classifier.proba)
    n_digits = sum(len(t.text) for t in truth)
    assert len(crops) == len(labels) == len(sources) and len(crops) >= 0.7 * n_digits
    assert all(c.shape == (28, 28) and c.dtype == np.uint8 for c in crops)
    assert [int(y[s]) for s in sources] == labels
    # the crops are the digits they are labelled as: the shipped model reads nearly all of them so
    assert (classifier.predict(np.stack(crops)).digit == np.array(labels)).mean() >= 0.95
