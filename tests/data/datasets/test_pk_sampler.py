from __future__ import annotations

from collections import Counter

import pytest
from torch.utils.data import DataLoader

from reidfw.data.datasets.sampler import PKSampler

# identity 3 has only 2 images (< k): sampled with replacement
LABELS = [0] * 7 + [1] * 5 + [2] * 4 + [3] * 2 + [4] * 6 + [5] * 8


def test_batches_are_p_identities_times_k_images():
    s = PKSampler(LABELS, p=3, k=4, seed=0)
    batches = list(s)
    assert len(batches) == len(s) == len(LABELS) // 12
    for b in batches:
        assert len(b) == 12
        per_id = Counter(LABELS[i] for i in b)
        assert len(per_id) == 3 and set(per_id.values()) == {4}
    # identities with >= k images never repeat an image within their k
    for b in batches:
        for ident in {LABELS[i] for i in b}:
            chosen = [i for i in b if LABELS[i] == ident]
            if LABELS.count(ident) >= 4:
                assert len(set(chosen)) == 4


def test_small_identity_is_sampled_with_replacement():
    s = PKSampler([0, 0, 1, 1, 1, 1, 1, 1], p=2, k=4, seed=1)
    for b in s:
        from_small = [i for i in b if i in (0, 1)]
        assert len(from_small) == 4  # k images from an identity that has only 2


def test_deterministic_given_seed_and_epoch():
    a, b = PKSampler(LABELS, 2, 3, seed=5), PKSampler(LABELS, 2, 3, seed=5)
    a.set_epoch(3), b.set_epoch(3)
    first = list(a)
    assert first == list(b)
    a.set_epoch(3)
    assert list(a) == first  # same epoch again -> same order
    a.set_epoch(4)
    assert list(a) != first
    c = PKSampler(LABELS, 2, 3, seed=6)
    c.set_epoch(3)
    assert list(c) != first
    # without set_epoch each pass advances the epoch
    d = PKSampler(LABELS, 2, 3, seed=5)
    passes = [list(d) for _ in range(5)]
    assert passes[3] == first and passes[0] != passes[1]


def test_usable_as_batch_sampler_and_sharded_across_ranks():
    data = list(range(len(LABELS)))
    loader = DataLoader(data, batch_sampler=PKSampler(LABELS, 2, 2, seed=0))
    assert len(loader) == len(LABELS) // 4
    assert all(len(batch) == 4 for batch in loader)
    full = PKSampler(LABELS, 2, 2, seed=0)
    ranks = [PKSampler(LABELS, 2, 2, seed=0, num_replicas=2, rank=r) for r in (0, 1)]
    stream = list(full)
    assert list(ranks[0]) == stream[0::2][: len(ranks[0])] and list(ranks[1]) == stream[1::2][: len(ranks[1])]


def test_too_few_identities_names_the_fix():
    with pytest.raises(ValueError, match="lower sampler.p"):
        PKSampler([0, 0, 1, 1], p=3, k=2)
