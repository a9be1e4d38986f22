"""Training batches depend on (seed, epoch, index) only: not on workers, not on the process that draws them."""
import torch

from reidfw.data.datasets.datamodule import ReIDDataModule
from reidfw.data.datasets.epoch_keys import KeyedBatches, SampleKey, ShuffleSampler
from reidfw.data.datasets.sampler import PKSampler
from reidfw.model_input import InputSpec


def _dm(tracks_root, **kw) -> ReIDDataModule:
    dm = ReIDDataModule(train_root=tracks_root, input_spec=InputSpec(size=(64, 32)), batch_size=4, num_workers=0, seed=5, **kw)
    dm.setup("fit")
    return dm


def _epochs(loader, n):
    return [[b["image"] for b in loader] for _ in range(n)]


def test_shuffle_sampler_order_is_fixed_by_seed_and_epoch():
    a, b = ShuffleSampler(10, seed=1), ShuffleSampler(10, seed=1)
    first, second = list(a), list(a)  # each pass advances the epoch
    assert [k.epoch for k in first] == [0] * 10 and [k.epoch for k in second] == [1] * 10
    assert sorted(k.index for k in first) == list(range(10)) and first != second
    b.set_epoch(1)
    assert list(b) == second and b.pass_epoch == 1


def test_keyed_batches_carry_the_epoch_into_a_pk_sampler():
    batches = KeyedBatches(PKSampler([0, 0, 1, 1, 2, 2], p=2, k=2, seed=0), epoch=3)
    assert batches.sampler is batches  # where Lightning calls set_epoch
    out = list(batches)
    assert all(isinstance(k, SampleKey) and k.epoch == 3 for batch in out for k in batch)


def test_workers_do_not_change_the_batches(tracks_root):
    dm0 = _dm(tracks_root, transform={"erasing_p": 1.0})
    dm2 = _dm(tracks_root, transform={"erasing_p": 1.0})
    dm2.num_workers = 2
    for e0, e2 in zip(_epochs(dm0.train_dataloader(), 2), _epochs(dm2.train_dataloader(), 2)):
        assert all(torch.equal(x, y) for x, y in zip(e0, e2))


def test_a_fresh_process_resumes_at_the_checkpointed_epoch(tracks_root):
    """What a resume does: a new data module, its state from the checkpoint, a loader built before
    Lightning's own epoch counter is back."""
    ref = _dm(tracks_root)
    loader = ref.train_dataloader()
    epochs = _epochs(loader, 3)
    assert ref.state_dict() == {"train_epoch": 3}

    mid = _dm(tracks_root)
    first = _epochs(mid.train_dataloader(), 1)
    state = mid.state_dict()  # written at the end of epoch 0
    assert state == {"train_epoch": 1}
    resumed = _dm(tracks_root)
    resumed.load_state_dict(state)
    rest = _epochs(resumed.train_dataloader(), 2)
    for a, b in zip(first + rest, epochs):
        assert all(torch.equal(x, y) for x, y in zip(a, b))


def test_pk_sampling_resumes_too(tracks_root):
    kw = dict(sampler={"name": "pk", "p": 2, "k": 2})
    ref = _epochs(_dm(tracks_root, **kw).train_dataloader(), 2)
    resumed = _dm(tracks_root, **kw)
    resumed.load_state_dict({"train_epoch": 1})
    (second,) = _epochs(resumed.train_dataloader(), 1)
    assert all(torch.equal(x, y) for x, y in zip(second, ref[1]))
