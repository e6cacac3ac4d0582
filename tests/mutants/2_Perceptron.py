"""Variants of homework 2 (perceptron versus MLP, the training loop): see tests/mutation.py."""

from mutation import Alternative, Mutant

_LOOP_STEP = ("            optimizer.zero_grad()\n"
              "            loss = loss_fn(model(X_train[idx]), y_train[idx])\n"
              "            loss.backward()\n"
              "            optimizer.step()\n")

VARIANTS = {
    "task-1": [
        Mutant("two_pi_turn", "angle 2πt instead of 3πt (one turn instead of one and a half)",
               replace=[("theta = 0.2 + 0.8 * t, 3 * np.pi * t", "theta = 0.2 + 0.8 * t, 2 * np.pi * t")]),
        Mutant("mirrored_not_rotated", "class 1 mirrored across the x axis instead of rotated by 180°",
               replace=[("np.concatenate([arm, -arm])", "np.concatenate([arm, arm * np.array([1.0, -1.0])])")]),
        Mutant("global_rng", "noise from the global NumPy generator, not default_rng(seed)",
               replace=[("np.random.default_rng(seed).normal(0, noise, size=(2 * n_per_class, 2))",
                         "np.random.normal(0, noise, size=(2 * n_per_class, 2))")]),
        Mutant("labels_int64", "labels as int64 (torch.tensor of an integer array)",
               replace=[("    y = np.concatenate([np.zeros(n_per_class), np.ones(n_per_class)])\n",
                         "    y = np.concatenate([np.zeros(n_per_class, dtype=int), np.ones(n_per_class, dtype=int)])\n"),
                        ("torch.tensor(y, dtype=torch.float32)", "torch.tensor(y)")]),
        Mutant("t_off_by_one", "t = i / n instead of i / (n − 1): the last point never reaches radius 1",
               replace=[("    t = np.linspace(0, 1, n_per_class)\n", "    t = np.arange(n_per_class) / n_per_class\n")]),
        Alternative("torch_polar", "computed in torch: polar angle plus π for the second arm",
                    source='''def make_spirals(n_per_class: int, noise: float = 0.0, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    t = torch.linspace(0, 1, n_per_class, dtype=torch.float64)
    r = 0.2 + 0.8 * t
    arms = [torch.stack([r * torch.cos(3 * torch.pi * t + shift), r * torch.sin(3 * torch.pi * t + shift)], dim=1)
            for shift in (0.0, torch.pi)]
    X = torch.cat(arms) + torch.from_numpy(np.random.default_rng(seed).normal(0, noise, size=(2 * n_per_class, 2)))
    y = torch.repeat_interleave(torch.tensor([0.0, 1.0]), n_per_class)
    return X.float(), y
'''),
    ],
    "task-2": [
        Mutant("no_activation", "MLP of Linear layers only (no nonlinearity between them)",
               replace=[("            layers += [nn.Linear(width, h), nn.ReLU()]\n", "            layers += [nn.Linear(width, h)]\n")]),
        Mutant("relu_on_logits", "a ReLU after the output layer: logits can never be negative",
               replace=[("        self.net = nn.Sequential(*layers)\n", "        self.net = nn.Sequential(*layers, nn.ReLU())\n")]),
        Mutant("squeeze_all_axes", "squeeze() instead of squeeze(-1): a batch of one becomes a scalar",
               replace=[("        return self.net(x).squeeze(-1)\n", "        return self.net(x).squeeze()\n")]),
        Mutant("hidden_ignored", "hard-codes two layers of 32 whatever hidden says",
               replace=[("        for h in hidden:\n", "        for h in (32, 32):\n")]),
        Mutant("perceptron_column", "the perceptron returns logits of shape (N, 1)",
               replace=[("    return nn.Sequential(nn.Linear(in_features, 1), nn.Flatten(0))\n",
                         "    return nn.Linear(in_features, 1)\n")]),
        Alternative("modulelist_tanh", "nn.ModuleList with tanh, looping in forward; perceptron as a one-layer MLP",
                    source='''def make_perceptron(in_features: int = 2) -> nn.Module:
    return MLP(in_features, hidden=())


class MLP(nn.Module):
    def __init__(self, in_features: int = 2, hidden: tuple[int, ...] = (32, 32)):
        super().__init__()
        sizes = [in_features, *hidden, 1]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers[:-1]:
            x = torch.tanh(layer(x))
        return self.layers[-1](x)[:, 0]
'''),
    ],
    "task-3": [
        Mutant("no_zero_grad", "never calls zero_grad(): gradients accumulate over the steps",
               replace=[("            optimizer.zero_grad()\n", "")]),
        Mutant("generator_reseeded", "creates the generator inside the epoch loop: every epoch has the same order",
               replace=[("    g = torch.Generator().manual_seed(seed)\n", ""),
                        ("        perm = torch.randperm(len(X_train), generator=g)\n",
                         "        perm = torch.randperm(len(X_train), generator=torch.Generator().manual_seed(seed))\n")]),
        Mutant("last_batch_loss", "records the last batch's loss instead of the epoch mean",
               replace=[("        history[\"train_loss\"].append(total / len(X_train))\n",
                         "        history[\"train_loss\"].append(loss.item())\n")]),
        Mutant("unweighted_mean", "averages the batch losses without weighting them by batch size",
               replace=[("            total += loss.item() * len(idx)\n", "            total += loss.item() * batch_size\n"),
                        ("        history[\"train_loss\"].append(total / len(X_train))\n",
                         "        history[\"train_loss\"].append(total / (batch_size * -(-len(X_train) // batch_size)))\n")]),
        Mutant("no_shuffle", "goes through the training set in the same fixed order",
               replace=[("        perm = torch.randperm(len(X_train), generator=g)\n", "        perm = torch.arange(len(X_train))\n")]),
        Mutant("stays_in_eval", "never calls model.train(): after accuracy() the model trains in eval mode",
               replace=[("        model.train()\n", "")]),
        Mutant("accuracy_without_eval_and_no_grad", "accuracy() neither switches to eval nor turns off the graph",
               replace=[("    model.eval()\n    with torch.no_grad():\n        return ((model(X) >= 0).float() == y).float().mean().item()\n",
                         "    return ((model(X) >= 0).float() == y).float().mean().item()\n")]),
        Mutant("trains_on_validation", "trains on train + validation (test-data leakage)",
               replace=[("    g = torch.Generator().manual_seed(seed)\n",
                         "    g = torch.Generator().manual_seed(seed)\n"
                         "    X_fit, y_fit = torch.cat([X_train, X_val]), torch.cat([y_train, y_val])\n"),
                        ("        perm = torch.randperm(len(X_train), generator=g)\n",
                         "        perm = torch.randperm(len(X_fit), generator=g)\n"),
                        ("        for start in range(0, len(X_train), batch_size):\n",
                         "        for start in range(0, len(X_fit), batch_size):\n"),
                        ("            loss = loss_fn(model(X_train[idx]), y_train[idx])\n",
                         "            loss = loss_fn(model(X_fit[idx]), y_fit[idx])\n")]),
        Mutant("sgd_instead_of_adam", "plain SGD instead of the Adam the statement asks for",
               replace=[("    optimizer = torch.optim.Adam(model.parameters(), lr=lr)\n",
                         "    optimizer = torch.optim.SGD(model.parameters(), lr=lr)\n")]),
        Alternative("split_and_zero_after_step", "torch.split of the permutation, model.zero_grad() after the step, "
                    "a loss sum kept as a tensor, F.binary_cross_entropy_with_logits",
                    replace=[("    loss_fn = nn.BCEWithLogitsLoss()\n",
                              "    loss_fn = torch.nn.functional.binary_cross_entropy_with_logits\n"),
                             ("        total = 0.0\n        for start in range(0, len(X_train), batch_size):\n"
                              "            idx = perm[start : start + batch_size]\n" + _LOOP_STEP +
                              "            total += loss.item() * len(idx)\n"
                              "        history[\"train_loss\"].append(total / len(X_train))\n",
                              "        total = torch.zeros(())\n"
                              "        for idx in torch.split(perm, batch_size):\n"
                              "            loss = loss_fn(model(X_train[idx]), y_train[idx])\n"
                              "            loss.backward()\n"
                              "            optimizer.step()\n"
                              "            model.zero_grad(set_to_none=False)\n"
                              "            total += loss.detach() * len(idx)\n"
                              "        history[\"train_loss\"].append((total / len(X_train)).item())\n"),
                             ("        return ((model(X) >= 0).float() == y).float().mean().item()\n",
                              "        return float(((model(X) >= 0) == y.bool()).sum()) / len(y)\n")]),
    ],
    "task-4": [
        Mutant("accuracy_on_training_set", "reports the accuracy on the training set as val_acc",
               replace=[("        val_acc[(name, kind)] = accuracy(model, X_va, y_va)\n",
                         "        val_acc[(name, kind)] = accuracy(model, X_tr, y_tr)\n")]),
        Mutant("mlp_without_hidden_layers", "the «MLP» has no hidden layers: another straight line",
               replace=[("MLP(hidden=(32, 32))", "MLP(hidden=())")]),
        Mutant("too_few_epochs", "trains a single epoch",
               replace=[("epochs = cfg.epochs(full=100, fast=25)\n", "epochs = 1\n")]),
        Mutant("mlp_as_perceptron", "stores the MLP under both keys",
               replace=[("        model = make_perceptron() if kind == \"perceptron\" else MLP(hidden=(32, 32))\n",
                         "        model = MLP(hidden=(32, 32))\n")]),
        Alternative("tanh_mlp_wider", "a wider tanh MLP with its own learning rate, accuracy computed by hand",
                    replace=[("        model = make_perceptron() if kind == \"perceptron\" else MLP(hidden=(32, 32))\n",
                              "        model = make_perceptron() if kind == \"perceptron\" else MLP(hidden=(64,))\n"),
                             ("lr=0.05 if kind == \"perceptron\" else 0.01)", "lr=0.05 if kind == \"perceptron\" else 0.02)"),
                             ("        val_acc[(name, kind)] = accuracy(model, X_va, y_va)\n",
                              "        model.eval()\n"
                              "        with torch.no_grad():\n"
                              "            val_acc[(name, kind)] = ((model(X_va) > 0) == (y_va > 0.5)).float().mean().item()\n")]),
    ],
    "task-5": [
        Mutant("features_outside_the_model", "trains on (r, θ) computed outside forward, so raw coordinates break it",
               replace=[("Xs_tr, ys_tr, Xs_va, ys_va = to_split(*make_spirals(500, noise=0.05, seed=0))\n",
                         "polar = lambda X: torch.stack([X.norm(dim=1), torch.atan2(X[:, 1], X[:, 0])], dim=1)\n"
                         "Xs_tr, ys_tr, Xs_va, ys_va = to_split(*make_spirals(500, noise=0.05, seed=0))\n"
                         "Xs_tr, Xs_va = polar(Xs_tr), polar(Xs_va)\n")]),
        Mutant("too_few_epochs", "two epochs: the spirals are not learnt",
               replace=[("epochs=cfg.epochs(full=100, fast=45)", "epochs=2"),
                        ("epochs=cfg.epochs(full=30, fast=15)", "epochs=1")]),
        Mutant("one_hidden_layer_of_four", "a tiny MLP (one hidden layer of 4) cannot draw a spiral boundary",
               replace=[("spiral_model = MLP(hidden=(64, 64))", "spiral_model = MLP(hidden=(4,))")]),
        Mutant("column_logits", "the model returns logits of shape (N, 1)",
               replace=[("spiral_model = MLP(hidden=(64, 64))", "spiral_model = MLP(hidden=(64, 64))\n"
                         "spiral_model.forward = lambda x, m=spiral_model: MLP.forward(m, x)[:, None]")]),
        Alternative("polar_features_inside", "radius and angle features computed inside the model's forward",
                    replace=[("spiral_model = MLP(hidden=(64, 64))\n",
                              "class PolarMLP(nn.Module):\n"
                              "    def __init__(self):\n"
                              "        super().__init__()\n"
                              "        self.mlp = MLP(in_features=4, hidden=(64, 64))\n\n"
                              "    def forward(self, x):\n"
                              "        r, a = x.norm(dim=1), torch.atan2(x[:, 1], x[:, 0])\n"
                              "        return self.mlp(torch.stack([x[:, 0], x[:, 1], r, a], dim=1))\n\n\n"
                              "spiral_model = PolarMLP()\n")]),
    ],
    "task-6": [
        Mutant("bias_not_carried", "adds the biases but does not pass the earlier bias through the later weights",
               replace=[("        b = layer.weight.detach() @ b + layer.bias.detach()\n", "        b = b + layer.bias.detach()\n")]),
        Mutant("first_bias_dropped", "starts from a zero bias, forgetting the first layer's",
               replace=[("    W, b = layers[0].weight.detach(), layers[0].bias.detach()\n",
                         "    W, b = layers[0].weight.detach(), torch.zeros_like(layers[0].bias)\n")]),
        Mutant("in_place_on_model", "accumulates the product into the first layer's weights in place",
               replace=[("    W, b = layers[0].weight.detach(), layers[0].bias.detach()\n",
                         "    W, b = layers[0].weight.data, layers[0].bias.data\n"),
                        ("        W = layer.weight.detach() @ W  # W_k (W x + b) + b_k = (W_k W) x + (W_k b + b_k)\n",
                         "        W = layer.weight.detach() @ W  # W_k (W x + b) + b_k = (W_k W) x + (W_k b + b_k)\n"
                         "        layers[0].weight.data = W\n")]),
        Mutant("only_last_layer", "returns a copy of the last layer only",
               replace=[("    for layer in layers[1:]:\n", "    W, b = layers[-1].weight.detach(), layers[-1].bias.detach()\n"
                         "    for layer in []:\n")]),
        Alternative("probe_with_identity", "reads W and b off the chain by feeding it 0 and the unit vectors",
                    source='''def collapse(model: nn.Sequential) -> nn.Linear:
    n_in = model[0].in_features
    with torch.no_grad():
        b = model(torch.zeros(1, n_in))[0]
        W = (model(torch.eye(n_in)) - b).T
    single = nn.Linear(n_in, len(b))
    single.load_state_dict({"weight": W.clone(), "bias": b.clone()})
    return single
'''),
    ],
}
