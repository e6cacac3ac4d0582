"""Variants of homework 7 (per-image CutMix, CutMix + label smoothing with TensorBoard, Grad-CAM++, profiling).

See tests/mutation.py: a Mutant must fail its task's check, an Alternative (a correct solution written
differently from the reference) must pass it.
"""

from mutation import Alternative, Mutant

VARIANTS = {
    "task-1": [
        Mutant("one_box_per_batch", "the lecture's CutMix: one λ and one rectangle for the whole batch",
               source='''def cutmix(x, y, num_classes, alpha=1.0):
    n, _, h, w = x.shape
    lam = float(np.random.beta(alpha, alpha))
    perm = torch.randperm(n, device=x.device)
    cut_h, cut_w = int(h * math.sqrt(1 - lam)), int(w * math.sqrt(1 - lam))
    cy, cx = np.random.randint(h), np.random.randint(w)
    top, bottom = max(cy - cut_h // 2, 0), min(cy + cut_h // 2, h)
    left, right = max(cx - cut_w // 2, 0), min(cx + cut_w // 2, w)
    mixed = x.clone()
    mixed[:, :, top:bottom, left:right] = x[perm, :, top:bottom, left:right]
    lam = 1 - (bottom - top) * (right - left) / (h * w)
    onehot = F.one_hot(y, num_classes).float()
    return mixed, lam * onehot + (1 - lam) * onehot[perm]
'''),
        Mutant("sampled_lambda", "label weights from the sampled λ_i, not from the real (clipped) area",
               replace=[("    lam = 1 - box.flatten(1).to(x.dtype).mean(1)  # реальная доля своих пикселей\n", "")]),
        Mutant("weights_swapped", "λ_i goes to the partner's class and 1 − λ_i to the own class",
               replace=[("soft = lam[:, None] * onehot + (1 - lam[:, None]) * onehot[perm]",
                         "soft = (1 - lam[:, None]) * onehot + lam[:, None] * onehot[perm]")]),
        Mutant("in_place", "pastes the boxes into x itself (the input changes)",
               replace=[("    mixed = torch.where(box, x[perm], x)\n",
                         "    mixed = x\n    mixed.copy_(torch.where(box, x[perm], x))\n")]),
        Mutant("partner_box_elsewhere", "copies the partner's pixels from a flipped place, not the same region",
               replace=[("    mixed = torch.where(box, x[perm], x)\n",
                         "    mixed = torch.where(box, x[perm].flip(-1, -2), x)\n")]),
        Alternative("loop_torch_beta", "a Python loop over images, torch Beta, an independent random partner per image",
                    source='''def cutmix(x, y, num_classes, alpha=1.0):
    n, _, h, w = x.shape
    beta = torch.distributions.Beta(torch.tensor(float(alpha)), torch.tensor(float(alpha)))
    mixed = x.clone()
    soft = torch.zeros(n, num_classes, dtype=x.dtype, device=x.device)
    for i in range(n):
        lam = beta.sample().item()
        j = int(torch.randint(n, ()))
        bh, bw = round(h * math.sqrt(1 - lam)), round(w * math.sqrt(1 - lam))
        cy, cx = int(torch.randint(h, ())), int(torch.randint(w, ()))
        y0, y1 = max(cy - bh // 2, 0), min(cy - bh // 2 + bh, h)
        x0, x1 = max(cx - bw // 2, 0), min(cx - bw // 2 + bw, w)
        mixed[i, :, y0:y1, x0:x1] = x[j, :, y0:y1, x0:x1]
        area = max(y1 - y0, 0) * max(x1 - x0, 0) / (h * w)
        soft[i, y[i]] += 1 - area
        soft[i, y[j]] += area
    return mixed, soft
'''),
    ],
    "task-2": [
        Mutant("logs_unmixed_batch", "writes train/batch from the batch before CutMix (the network saw another one)",
               replace=[("            x, y = x.to(device), y.to(device)\n",
                         "            x, y = x.to(device), y.to(device)\n            x_seen = x\n"),
                        ("denormalize(x[:16])", "denormalize(x_seen[:16])")]),
        Mutant("logs_normalized", "writes the normalized batch to train/batch (not denormalize(x))",
               replace=[("denormalize(x[:16])", "x[:16].cpu()")]),
        Mutant("model_sees_original", "mixes the batch but feeds the original one to the model",
               replace=[("                x, y = cutmix(x, y, num_classes)\n",
                         "                _, y = cutmix(x, y, num_classes)\n")]),
        Mutant("no_label_smoothing", "keeps nn.CrossEntropyLoss() without label_smoothing",
               replace=[("nn.CrossEntropyLoss(label_smoothing=label_smoothing)", "nn.CrossEntropyLoss()")]),
        Mutant("train_mode_once", "model.train() only before the loop: evaluate leaves it in eval for epoch 2",
               replace=[("    for epoch in range(epochs):\n        model.train()\n",
                         "    model.train()\n    for epoch in range(epochs):\n")]),
        Mutant("step_per_epoch", "loss/train logged with the epoch as step",
               replace=[('writer.add_scalar("loss/train", losses[-1], step)',
                         'writer.add_scalar("loss/train", losses[-1], epoch)')]),
        Alternative("torch_coin_last_batch", "torch.rand for the coin, the writer as a context, images from the last batch",
                    source='''def train_with_tricks(model, loader, epochs, lr, log_dir=None, eval_loader=None, cutmix_prob=0.5,
                      label_smoothing=0.1, num_classes=10):
    from contextlib import nullcontext

    device = next(model.parameters()).device
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * len(loader))
    criterion = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    losses = []
    with (SummaryWriter(str(log_dir)) if log_dir is not None else nullcontext()) as writer:
        for epoch in range(epochs):
            model.train()
            for i, (x, y) in enumerate(loader):
                x, y = x.to(device), y.to(device)
                if torch.rand(()).item() < cutmix_prob:
                    x, y = cutmix(x, y, num_classes)
                loss = criterion(model(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                losses.append(float(loss))
                if writer is not None:
                    writer.add_scalar("loss/train", losses[-1], global_step=len(losses) - 1)
                    if i == len(loader) - 1:
                        writer.add_images("train/batch", denormalize(x.detach()[:16]), global_step=len(losses) - 1)
            if writer is not None and eval_loader is not None:
                writer.add_scalar("acc/val", evaluate(model, eval_loader), global_step=len(losses))
    return losses
'''),
    ],
    "task-3": [
        Mutant("no_eval", "forgets model.eval(): BatchNorm uses batch statistics and updates its running ones",
               replace=[("        model.eval()\n", "")]),
        Mutant("grad_cam_weights", "plain Grad-CAM weights: the mean gradient per channel",
               replace=[("    weights = (a * F.relu(g)).sum(dim=(2, 3), keepdim=True)\n",
                         "    weights = g.mean(dim=(2, 3), keepdim=True)\n")]),
        Mutant("no_relu_on_gradient", "w_k = Σ a·g: negative gradients are not dropped",
               replace=[("(a * F.relu(g))", "(a * g)")]),
        Mutant("pixel_activation_sum", "A_kij instead of Σ_ab A_kab in the denominator",
               replace=[("act.sum(dim=(2, 3), keepdim=True) * g**3", "act * g**3")]),
        Mutant("probability_not_logit", "differentiates the softmax probability instead of the logit",
               replace=[("model(x).gather(1, target[:, None]).sum().backward()",
                         "model(x).softmax(1).gather(1, target[:, None]).sum().backward()")]),
        Mutant("eps_in_denominator", "adds eps = 1e-7 to the denominator of a (as some libraries do) instead of a mask",
               replace=[("    a = torch.where(denom != 0, g**2 / torch.where(denom != 0, denom, torch.ones_like(denom)), torch.zeros_like(g))\n",
                         "    a = g**2 / (denom + 1e-7)\n")]),
        Mutant("hook_left", "removes the hook only on success, and forgets it (no finally, no remove)",
               replace=[("        handle.remove()\n", "        pass\n")]),
        Alternative("autograd_grad_einsum", "a hook stores the activation only; torch.autograd.grad; einsum; eps-free masking by nan_to_num",
                    source='''def grad_cam_pp(model, layer, x, target):
    acts = []
    handle = layer.register_forward_hook(lambda module, inputs, output: acts.append(output))
    was_training = model.training
    model.eval()
    try:
        scores = model(x)[torch.arange(len(x)), target]
    finally:
        handle.remove()
    (g,) = torch.autograd.grad(scores.sum(), acts[0])
    A = acts[0].detach()
    a = (g**2 / (2 * g**2 + A.sum((2, 3))[:, :, None, None] * g**3)).nan_to_num(0.0, 0.0, 0.0)
    w = torch.einsum("nkij,nkij->nk", a, g.clamp(min=0))
    return torch.einsum("nk,nkij->nij", w, A).clamp(min=0)
'''),
    ],
    "task-4": [
        Mutant("total_not_per_step", "returns the total time of all profiled steps, not per step",
               replace=[("e.cpu_time_total / e.count / 1e3", "e.cpu_time_total / 1e3")]),
        Mutant("microseconds", "returns microseconds (cpu_time_total / count) instead of milliseconds",
               replace=[("e.cpu_time_total / e.count / 1e3", "e.cpu_time_total / e.count")]),
        Mutant("no_schedule", "profiles the first steps of a new iterator: no wait/warmup",
               replace=[(", schedule=schedule(wait=1, warmup=1, active=steps)", ""),
                        ("        for _ in range(steps + 2):\n", "        for _ in range(steps):\n")]),
        Mutant("shuffled_cache", "caches the data but shuffles the batches",
               replace=[("DataLoader(cached, batch_size=batch_size, shuffle=False)",
                         "DataLoader(cached, batch_size=batch_size, shuffle=True)")]),
        Mutant("one_pass_generator", "a generator of cached batches: the second pass is empty",
               replace=[("    return DataLoader(cached, batch_size=batch_size, shuffle=False)\n",
                         "    return iter(DataLoader(cached, batch_size=batch_size, shuffle=False))\n")]),
        Mutant("pin_memory_only", "the slow loader with pin_memory: nothing is cached or parallel",
               replace=[("    xs, ys = zip(*(slow_ds[i] for i in range(len(slow_ds))))\n"
                         "    cached = TensorDataset(torch.stack(xs), torch.tensor(ys))\n"
                         "    return DataLoader(cached, batch_size=batch_size, shuffle=False)\n",
                         "    return DataLoader(slow_ds, batch_size=batch_size, pin_memory=torch.cuda.is_available())\n")]),
        Alternative("workers", "DataLoader with 4 persistent workers (the answer key's other recipe)",
                    replace=[("    xs, ys = zip(*(slow_ds[i] for i in range(len(slow_ds))))\n"
                              "    cached = TensorDataset(torch.stack(xs), torch.tensor(ys))\n"
                              "    return DataLoader(cached, batch_size=batch_size, shuffle=False)\n",
                              "    return DataLoader(slow_ds, batch_size=batch_size, num_workers=4, persistent_workers=True,\n"
                              "                      prefetch_factor=2)\n")]),
        Alternative("precomputed_batches", "a list of ready batches: the loader is a list (iterable again and again)",
                    replace=[("    xs, ys = zip(*(slow_ds[i] for i in range(len(slow_ds))))\n"
                              "    cached = TensorDataset(torch.stack(xs), torch.tensor(ys))\n"
                              "    return DataLoader(cached, batch_size=batch_size, shuffle=False)\n",
                              "    return [batch for batch in DataLoader(slow_ds, batch_size=batch_size)]\n")]),
    ],
}
