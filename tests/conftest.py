"""Shared helpers for the model tests: small random-but-deterministic networks and inputs."""
from __future__ import annotations

import pytest
import torch

import reidfw  # noqa: F401  (registers iresnet*/reid_resnet* with timm)
from reidfw.models import build_backbone

def randomize_(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give every parameter and BN statistic a non-default value, so a load that silently
    skipped any tensor (BN buffers included) changes the embedding."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.is_floating_point():
                continue
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            else:
                t.add_(0.05 * torch.randn(t.shape, generator=g))
    return model.eval()


@pytest.fixture
def make_model():
    def make(name: str, img_size: tuple[int, int], seed: int = 0, **kwargs):
        torch.manual_seed(seed)
        return randomize_(build_backbone(name, img_size=img_size, **kwargs), seed)

    return make


@pytest.fixture
def embed():
    def run(model: torch.nn.Module, img_size: tuple[int, int], seed: int = 1) -> torch.Tensor:
        x = torch.rand((2, 3, *img_size), generator=torch.Generator().manual_seed(seed))
        with torch.no_grad():
            return model.eval()(x)

    return run


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Run these small forwards on one thread: on the shared 2-core machine, torch's default
    two OpenMP threads spin against other processes and make a tiny forward ~100x slower.
    Restored after each test, so other test folders keep their setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def hooked_forward():
    """One batch-1 forward that records each named stage's output shape as (C, H, W)."""

    def run(model: torch.nn.Module, stages: dict[str, torch.nn.Module], img_size: tuple[int, int]):
        shapes = {}
        hooks = [m.register_forward_hook(lambda _m, _i, out, n=n: shapes.__setitem__(n, tuple(out.shape[1:])))
                 for n, m in stages.items()]
        try:
            with torch.no_grad():
                out = model(torch.rand(1, 3, *img_size))
        finally:
            for h in hooks:
                h.remove()
        return shapes, out

    return run
