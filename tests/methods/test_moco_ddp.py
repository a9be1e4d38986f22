"""Two CPU processes (gloo, Lightning ddp_spawn): every rank's queue receives the keys of both ranks."""
import pytest
import pytorch_lightning as pl
import torch
from reid_synth import MOCO, RecordingMoCo, TwoViews
from torch.utils.data import DataLoader

B = 4  # per-process batch


@pytest.mark.ddp
def test_ddp_queue_holds_keys_of_both_processes(tmp_path):
    pl.seed_everything(0)
    m = RecordingMoCo(**{**MOCO, "queue_size": 20, "shuffle_bn": True, "split_bn_groups": 8})
    m.out_dir = str(tmp_path)  # instance attribute: pickled with the module into both processes
    queue_before = m.queue.keys.clone()
    trainer = pl.Trainer(accelerator="cpu", devices=2, strategy="ddp_spawn", max_steps=1, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    # Distinguishable data: DistributedSampler gives each rank its own crops.
    try:
        trainer.fit(m, DataLoader(TwoViews(n=2 * B), batch_size=B))
    except torch.multiprocessing.ProcessExitedException as e:
        # Now and then gloo aborts a worker *after* fit returned ("terminate called without an active
        # exception" while its threads are torn down). What this test checks was saved by then; a crash
        # before the step would leave a rank's file missing and still fail below.
        records = [tmp_path / f"rank{r}.pt" for r in (0, 1)]
        if e.signal_name != "SIGABRT" or not all(p.exists() for p in records):
            raise
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert (r0["rank"], r1["rank"]) == (0, 1)
    both = torch.cat([r0["local_keys"], r1["local_keys"]])
    assert not torch.allclose(r0["local_keys"], r1["local_keys"])
    for r in (r0, r1):
        # each process's keys belong to its own images (shuffle BN routed them back correctly) ...
        torch.testing.assert_close(r["local_keys"], r["local_keys_eval"], atol=1e-5, rtol=1e-4)
        # ... and the enqueued block is both processes' keys in rank order, the rest untouched
        assert r["ptr"] == 2 * B
        torch.testing.assert_close(r["queue"][: 2 * B], both)
        torch.testing.assert_close(r["all_keys"], both)
        assert torch.equal(r["queue"][2 * B :], queue_before[2 * B :])
    assert torch.equal(r0["key_param"], r1["key_param"])
