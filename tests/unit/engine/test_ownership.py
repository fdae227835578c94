import pytest
import torch

from workers.engine.seeds.ownership import (
    add_group,
    check_ownership,
    holds_any,
    owners,
    remove_group,
)


def test_seed_group_added_and_removed_with_its_state() -> None:
    host, seed = torch.nn.Linear(3, 3), torch.nn.Linear(3, 3)
    opt = torch.optim.Adam([{"params": list(host.parameters()), "owner": "host"}])
    add_group(opt, "seed-1", seed.parameters())
    assert owners(opt) == ["host", "seed-1"]
    (host(torch.ones(1, 3)).sum() + seed(torch.ones(1, 3)).sum()).backward()
    opt.step()
    assert all(p in opt.state for p in seed.parameters())

    assert remove_group(opt, "seed-1") == 2
    assert owners(opt) == ["host"]
    assert not holds_any(opt, seed.parameters())
    assert not any(p in opt.state for p in seed.parameters())
    assert all(p in opt.state for p in host.parameters())


def test_duplicate_owner_and_orphans_are_errors() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))
    opt = torch.optim.SGD(
        [{"params": list(model[0].parameters()), "owner": "host"}], lr=0.1
    )
    with pytest.raises(ValueError, match="already"):
        add_group(opt, "host", model[1].parameters())
    with pytest.raises(ValueError, match="no owner"):
        check_ownership(model, opt)
    add_group(opt, "seed-1", model[1].parameters())
    check_ownership(model, opt)
