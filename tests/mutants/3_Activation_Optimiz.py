"""Variants of homework 3 (Mish with its own backward, Adam as an Optimizer, the experiment): see tests/mutation.py."""

from mutation import Alternative, Mutant

_BACKWARD = ("        t = torch.tanh(F.softplus(x))\n"
             "        # (x·tanh(sp))' = tanh(sp) + x·(1 − tanh²(sp))·sp',  sp' = σ(x)\n"
             "        return grad_output * (t + x * (1 - t * t) * torch.sigmoid(x))\n")

VARIANTS = {
    "task-1": [
        Mutant("naive_softplus", "softplus as log(1 + exp(x)) in forward and backward (the statement warns against it)",
               replace=[("        return x * torch.tanh(F.softplus(x))\n",
                         "        return x * torch.tanh(torch.log(1 + torch.exp(x)))\n"),
                        ("        t = torch.tanh(F.softplus(x))\n", "        t = torch.tanh(torch.log(1 + torch.exp(x)))\n")]),
        Mutant("naive_sigmoid_in_backward", "softplus' as exp(x) / (1 + exp(x)): inf / inf = nan for large x",
               replace=[("* torch.sigmoid(x))\n", "* torch.exp(x) / (1 + torch.exp(x)))\n")]),
        Mutant("tanh_by_exponents", "tanh(s) written as (e^{2s} − 1) / (e^{2s} + 1): overflows for large x",
               replace=[("        return x * torch.tanh(F.softplus(x))\n",
                         "        e = torch.exp(2 * F.softplus(x))\n        return x * (e - 1) / (e + 1)\n")]),
        Mutant("product_rule_half", "differentiates only the x factor: mish' = tanh(softplus(x))",
               replace=[("        return grad_output * (t + x * (1 - t * t) * torch.sigmoid(x))\n",
                         "        return grad_output * t\n")]),
        Mutant("tanh_derivative_wrong", "tanh' written as 1 − tanh instead of 1 − tanh²",
               replace=[("(t + x * (1 - t * t) * torch.sigmoid(x))", "(t + x * (1 - t) * torch.sigmoid(x))")]),
        Mutant("grad_output_ignored", "backward returns mish'(x) without multiplying by grad_output",
               replace=[("        return grad_output * (t + x * (1 - t * t) * torch.sigmoid(x))\n",
                         "        return t + x * (1 - t * t) * torch.sigmoid(x)\n")]),
        Mutant("saves_the_output", "saves mish(x) for backward and differentiates as if it were x",
               replace=[("        ctx.save_for_backward(x)\n        return x * torch.tanh(F.softplus(x))\n",
                         "        y = x * torch.tanh(F.softplus(x))\n        ctx.save_for_backward(y)\n        return y\n")]),
        Alternative("logaddexp_softplus", "softplus as logaddexp(0, x); derivative through sech² = 1 − tanh²",
                    replace=[("        return x * torch.tanh(F.softplus(x))\n",
                              "        return x * torch.tanh(torch.logaddexp(torch.zeros_like(x), x))\n"),
                             (_BACKWARD,
                              "        sp = torch.logaddexp(torch.zeros_like(x), x)\n"
                              "        sech2 = 1 - torch.tanh(sp) ** 2\n"
                              "        return grad_output * (torch.tanh(sp) + x * torch.sigmoid(x) * sech2)\n")]),
        Alternative("log1p_softplus", "softplus as max(x, 0) + log1p(exp(−abs(x))), the input saved with its tanh",
                    replace=[("        ctx.save_for_backward(x)\n        return x * torch.tanh(F.softplus(x))\n",
                              "        t = torch.tanh(torch.clamp(x, min=0) + torch.log1p(torch.exp(-x.abs())))\n"
                              "        ctx.save_for_backward(x, t)\n"
                              "        return x * t\n"),
                             ("        (x,) = ctx.saved_tensors\n" + _BACKWARD,
                              "        x, t = ctx.saved_tensors\n"
                              "        return grad_output * (t + x * (1 - t * t) * torch.sigmoid(x))\n")]),
    ],
    "task-2": [
        Mutant("no_bias_correction", "skips the 1 / (1 − βᵗ) corrections",
               replace=[("                m_hat = m / (1 - beta1**t)\n                v_hat = v / (1 - beta2**t)\n",
                         "                m_hat, v_hat = m, v.clone()\n")]),
        Mutant("eps_inside_sqrt", "ε under the square root",
               replace=[("                p.addcdiv_(m_hat, v_hat.sqrt().add_(eps), value=-lr)\n",
                         "                p.addcdiv_(m_hat, v_hat.add(eps).sqrt(), value=-lr)\n")]),
        Mutant("always_l2", "ignores decoupled: AdamW adds λp to the gradient like Adam",
               replace=[("                    if group[\"decoupled\"]:\n", "                    if False:\n")]),
        Mutant("lr_read_once", "reads lr from the defaults, so groups and schedulers have no effect",
               replace=[("            lr, (beta1, beta2) = group[\"lr\"], group[\"betas\"]\n",
                         "            lr, (beta1, beta2) = self.defaults[\"lr\"], group[\"betas\"]\n")]),
        Mutant("shared_step_counter", "one step counter for all parameters, advanced per parameter",
               replace=[("                state[\"step\"] += 1\n                t = state[\"step\"]\n",
                         "                self.t = getattr(self, \"t\", 0) + 1\n                t = self.t\n")]),
        Mutant("rebinds_instead_of_in_place", "p = p − … rebinds the loop variable; the parameter never changes",
               replace=[("                p.addcdiv_(m_hat, v_hat.sqrt().add_(eps), value=-lr)\n",
                         "                p = p - lr * m_hat / (v_hat.sqrt() + eps)\n")]),
        Mutant("no_skip_without_grad", "does not skip parameters whose grad is None",
               replace=[("                if p.grad is None:\n                    continue\n"
                         "                grad = p.grad\n",
                         "                grad = p.grad if p.grad is not None else torch.zeros_like(p)\n")]),
        Alternative("torch_style_step_size", "PyTorch's own arrangement: step size lr / (1 − β1ᵗ), denominator √v / √(1 − β2ᵗ) + ε",
                    replace=[("                m_hat = m / (1 - beta1**t)\n                v_hat = v / (1 - beta2**t)\n"
                              "                p.addcdiv_(m_hat, v_hat.sqrt().add_(eps), value=-lr)\n",
                              "                step_size = lr / (1 - beta1**t)\n"
                              "                denom = v.sqrt() / math.sqrt(1 - beta2**t) + eps\n"
                              "                p.sub_(step_size * m / denom)\n")]),
    ],
    "task-3": [
        Mutant("softmax_on_logits", "a Softmax after the output layer (cross_entropy then applies log-softmax twice)",
               replace=[("                         nn.Linear(hidden[1], 10))\n",
                         "                         nn.Linear(hidden[1], 10), nn.Softmax(dim=1))\n")]),
        Mutant("no_zero_grad", "never calls zero_grad(): gradients accumulate over the steps",
               replace=[("            opt.zero_grad()\n", "")]),
        Mutant("last_batch_loss", "records the last batch's loss instead of the epoch mean",
               replace=[("        train_loss.append(total / len(perm))\n", "        train_loss.append(loss.item())\n")]),
        Mutant("accuracy_on_training_set", "reports the accuracy on the training set as test_acc",
               replace=[("        acc = (model(X_test).argmax(dim=1) == y_test).float().mean().item()\n",
                         "        acc = (model(X_train).argmax(dim=1) == y_train).float().mean().item()\n")]),
        Mutant("seed_after_model", "sets the seed after building the model: the initial weights differ run to run",
               replace=[("    torch.manual_seed(seed)\n    model = make_mlp(activation)\n",
                         "    model = make_mlp(activation)\n    torch.manual_seed(seed)\n")]),
        Mutant("sgd_with_momentum", "\"sgd\" built with momentum",
               replace=[("        \"sgd\": lambda: torch.optim.SGD(params, lr=0.1),\n",
                         "        \"sgd\": lambda: torch.optim.SGD(params, lr=0.1, momentum=0.9),\n")]),
        Alternative("loader_and_class_model", "a nn.Module class, a DataLoader with its own seeded generator, "
                    "loss summed with reduction='sum'",
                    replace=[("    act = ACTIVATIONS[activation]\n"
                              "    return nn.Sequential(nn.Linear(64, hidden[0]), act(), nn.Linear(hidden[0], hidden[1]), act(),\n"
                              "                         nn.Linear(hidden[1], 10))\n",
                              "    class Net(nn.Module):\n"
                              "        def __init__(self):\n"
                              "            super().__init__()\n"
                              "            self.body = nn.Sequential(nn.Linear(64, hidden[0]), ACTIVATIONS[activation](),\n"
                              "                                      nn.Linear(hidden[0], hidden[1]), ACTIVATIONS[activation]())\n"
                              "            self.head = nn.Linear(hidden[1], 10)\n\n"
                              "        def forward(self, x):\n"
                              "            return self.head(self.body(x))\n\n"
                              "    return Net()\n"),
                             ("    gen = torch.Generator().manual_seed(seed)\n"
                              "    train_loss = []\n"
                              "    for _ in range(epochs):\n"
                              "        model.train()\n"
                              "        perm, total = torch.randperm(len(X_train), generator=gen), 0.0\n"
                              "        for i in range(0, len(perm), 64):\n"
                              "            idx = perm[i : i + 64]\n"
                              "            loss = F.cross_entropy(model(X_train[idx]), y_train[idx])\n",
                              "    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X_train, y_train), batch_size=64,\n"
                              "                                         shuffle=True, generator=torch.Generator().manual_seed(seed))\n"
                              "    train_loss = []\n"
                              "    for _ in range(epochs):\n"
                              "        model.train()\n"
                              "        total = 0.0\n"
                              "        for xb, yb in loader:\n"
                              "            loss = F.cross_entropy(model(xb), yb, reduction=\"sum\") / len(yb)\n"),
                             ("            total += loss.item() * len(idx)\n        train_loss.append(total / len(perm))\n",
                              "            total += loss.item() * len(yb)\n        train_loss.append(total / len(X_train))\n")]),
    ],
}
