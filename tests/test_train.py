"""The training helpers: they learn, and their statistics equal a hand computation."""

import torch
from torch import nn

from torch_book import train


def _blobs(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    centres = torch.tensor([[0.0, 3.0], [3.0, 0.0], [-3.0, -3.0]])
    return centres[y] + torch.randn(n, 2, generator=g), y


def test_fit_learns_and_reports_per_epoch():
    x, y = _blobs()
    batches = [(x[i:i + 32], y[i:i + 32]) for i in range(0, len(y), 32)]
    torch.manual_seed(0)
    model = nn.Linear(2, 3)
    history = train.fit(model, batches, batches, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1),
                        epochs=5, device=torch.device("cpu"), verbose=False)
    assert len(history["train_loss"]) == len(history["val_acc"]) == 5
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert history.last("val_acc") > 0.9


def test_epoch_statistics_match_a_hand_computation():
    x, y = _blobs(100)
    batches = [(x[i:i + 30], y[i:i + 30]) for i in range(0, 100, 30)]  # unequal last batch
    model = nn.Linear(2, 3)
    loss, acc = train.evaluate(model, batches, nn.CrossEntropyLoss(), torch.device("cpu"))
    with torch.no_grad():
        torch.testing.assert_close(loss, nn.functional.cross_entropy(model(x), y).item())
        assert acc == (model(x).argmax(1) == y).sum().item() / len(y)
    preds, targets = train.predict(model, batches, torch.device("cpu"))
    assert torch.equal(targets, y) and preds.shape == y.shape
    assert train.count_parameters(model) == 9


def _bn_net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 3))


def test_keep_eval_freezes_batchnorm_statistics_and_only_those():
    x, y = _blobs(128)
    batches = [(x[i:i + 32], y[i:i + 32]) for i in range(0, 128, 32)]
    model = _bn_net()
    bn = train.batchnorm_layers(model)
    assert bn == [model[1]]
    before = {k: v.clone() for k, v in model[1].named_buffers()}
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    train.fit(model, batches, batches, nn.CrossEntropyLoss(), opt, epochs=2, device=torch.device("cpu"),
              verbose=False, keep_eval=bn)
    assert set(before) == {"running_mean", "running_var", "num_batches_tracked"}
    for k, v in model[1].named_buffers():
        assert torch.equal(v, before[k]), k
    assert not torch.equal(model[0].weight, _bn_net()[0].weight)  # the rest did train

    # during the epoch: BatchNorm in eval mode, every other module (Dropout) in train mode
    seen = []
    model[3].register_forward_hook(lambda m, i, o: seen.append((m.training, model[1].training)))
    train.train_epoch(model, batches[:1], nn.CrossEntropyLoss(), opt, torch.device("cpu"), keep_eval=bn)
    assert seen == [(True, False)]


def test_without_keep_eval_fit_updates_batchnorm_statistics_as_before():
    x, y = _blobs(128)
    batches = [(x[i:i + 32], y[i:i + 32]) for i in range(0, 128, 32)]
    model = _bn_net()
    model.eval()  # train_epoch switches it back to train mode
    before = model[1].running_mean.clone()
    train.train_epoch(model, batches, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1),
                      torch.device("cpu"))
    assert model.training and model[1].training
    assert not torch.equal(model[1].running_mean, before)
    assert model[1].num_batches_tracked.item() == len(batches)
