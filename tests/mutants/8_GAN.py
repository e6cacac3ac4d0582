"""Variants of homework 8 (conditional DCGAN: conditional BatchNorm, one-hot D, hinge loss): see tests/mutation.py."""

from mutation import Alternative, Mutant

VARIANTS = {
    "task-1": [
        Mutant("sigmoid_output", "the generator ends in Sigmoid: outputs only in (0, 1), not the data's [−1, 1]",
               replace=[("        return torch.tanh(self.out(h))\n", "        return torch.sigmoid(self.out(h))\n")]),
        Mutant("no_normalisation", "CBN forgets the batch normalisation: γ_y·h + β_y",
               replace=[("self.gamma(y)[:, :, None, None] * self.bn(h)", "self.gamma(y)[:, :, None, None] * h")]),
        Mutant("instance_norm", "normalises each image on its own (InstanceNorm2d) instead of over the batch",
               replace=[("        self.bn = nn.BatchNorm2d(num_features, affine=False)\n",
                         "        self.bn = nn.InstanceNorm2d(num_features)\n")]),
        Mutant("unconditional_affine", "plain BatchNorm2d(affine=True): γ, β shared by all classes, the label is ignored",
               replace=[("        self.bn = nn.BatchNorm2d(num_features, affine=False)\n",
                         "        self.bn = nn.BatchNorm2d(num_features)\n"),
                        ("        return self.gamma(y)[:, :, None, None] * self.bn(h) + self.beta(y)[:, :, None, None]\n",
                         "        return self.bn(h)\n")]),
        Mutant("beta_zero_init", "β initialised with zeros (BigGAN's init): the label is invisible at first",
               replace=[("        nn.init.normal_(self.beta.weight, 0.0, 1.0)\n", "        nn.init.zeros_(self.beta.weight)\n")]),
        Mutant("gamma_random_init", "γ keeps nn.Embedding's N(0, 1) initialisation instead of ones",
               replace=[("        nn.init.ones_(self.gamma.weight)\n", "")]),
        Mutant("first_label_for_batch", "γ, β of the first image's label used for the whole batch",
               replace=[("        return self.gamma(y)[:, :, None, None] * self.bn(h) + self.beta(y)[:, :, None, None]\n",
                         "        return self.gamma(y[:1])[:, :, None, None] * self.bn(h) + self.beta(y[:1])[:, :, None, None]\n")]),
        Mutant("batch_stats_in_eval", "BatchNorm without running statistics: eval() still normalises over the batch",
               replace=[("nn.BatchNorm2d(num_features, affine=False)",
                         "nn.BatchNorm2d(num_features, affine=False, track_running_stats=False)")]),
        Mutant("generator_ignores_label", "the generator passes a constant label to its CBN layers",
               replace=[("        h = F.relu(self.bn1(self.up1(z[:, :, None, None]), y))\n"
                         "        h = F.relu(self.bn2(self.up2(h), y))\n",
                         "        h = F.relu(self.bn1(self.up1(z[:, :, None, None]), torch.zeros_like(y)))\n"
                         "        h = F.relu(self.bn2(self.up2(h), torch.zeros_like(y)))\n")]),
        Alternative("parameter_tables_one_hot_generator",
                    "CBN with nn.Parameter tables and F.batch_norm on own buffers; a generator conditioned by a "
                    "one-hot label concatenated to the noise (plain BatchNorm, a valid cGAN)",
                    source='''class CondBatchNorm2d(nn.Module):
    def __init__(self, num_features, n_classes=10):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(n_classes, num_features))
        self.beta = nn.Parameter(torch.randn(n_classes, num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def forward(self, h, y):
        h = F.batch_norm(h, self.running_mean, self.running_var, training=self.training, momentum=0.1, eps=1e-5)
        return h * self.gamma[y].view(len(y), -1, 1, 1) + self.beta[y].view(len(y), -1, 1, 1)


class Generator(nn.Module):
    def __init__(self, z_dim=64, n_classes=10, ch=64):
        super().__init__()
        self.n_classes = n_classes
        self.net = nn.Sequential(
            nn.Unflatten(1, (z_dim + n_classes, 1, 1)),
            nn.ConvTranspose2d(z_dim + n_classes, 4 * ch, 7, 1, 0, bias=False), nn.BatchNorm2d(4 * ch), nn.ReLU(),
            nn.ConvTranspose2d(4 * ch, 2 * ch, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * ch), nn.ReLU(),
            nn.ConvTranspose2d(2 * ch, 1, 4, 2, 1), nn.Tanh())

    def forward(self, z, y):
        return self.net(torch.cat([z, F.one_hot(y, self.n_classes).float()], dim=1))
'''),
        Alternative("residual_gamma_module_list", "γ = 1 + Δγ from one Embedding [Δγ | β] (Δγ = 0, β ~ N(0, 1)); layers walked in a loop",
                    source='''class CondBatchNorm2d(nn.Module):
    def __init__(self, num_features, n_classes=10):
        super().__init__()
        self.norm = nn.BatchNorm2d(num_features, affine=False)
        self.emb = nn.Embedding(n_classes, 2 * num_features)  # [Δγ | β]: Δγ = 0, β ~ N(0, 1)
        with torch.no_grad():
            self.emb.weight[:, :num_features] = 0

    def forward(self, h, y):
        dg, b = self.emb(y).unsqueeze(-1).unsqueeze(-1).chunk(2, dim=1)
        return (1 + dg) * self.norm(h) + b


class Generator(nn.Module):
    def __init__(self, z_dim=64, n_classes=10, ch=64):
        super().__init__()
        self.ups = nn.ModuleList([nn.ConvTranspose2d(z_dim, 4 * ch, 7, 1, 0),
                                  nn.ConvTranspose2d(4 * ch, 2 * ch, 4, 2, 1)])
        self.norms = nn.ModuleList([CondBatchNorm2d(4 * ch, n_classes), CondBatchNorm2d(2 * ch, n_classes)])
        self.last = nn.ConvTranspose2d(2 * ch, 1, 4, 2, 1)

    def forward(self, z, y):
        h = z.view(*z.shape, 1, 1)
        for up, norm in zip(self.ups, self.norms):
            h = torch.relu(norm(up(h), y))
        return self.last(h).tanh()
'''),
    ],
    "task-2": [
        Mutant("sigmoid_output", "D returns probabilities (sigmoid) instead of logits",
               replace=[("        return self.net(torch.cat([x, planes], dim=1)).flatten()\n",
                         "        return torch.sigmoid(self.net(torch.cat([x, planes], dim=1)).flatten())\n")]),
        Mutant("one_hot_without_num_classes", "F.one_hot(y) without num_classes: as many channels as the batch's largest label",
               replace=[("F.one_hot(y, self.n_classes)", "F.one_hot(y)")]),
        Mutant("label_ignored", "builds the one-hot planes but feeds zeros instead",
               replace=[("torch.cat([x, planes], dim=1)", "torch.cat([x, torch.zeros_like(planes)], dim=1)")]),
        Mutant("logits_n_by_1", "returns logits of shape (N, 1)",
               replace=[(".flatten()\n", ".flatten(1)\n")]),
        Mutant("init_touches_embeddings", "dcgan_init also re-initialises nn.Embedding (CBN γ and β)",
               replace=[("    elif isinstance(m, nn.BatchNorm2d) and m.affine:\n",
                         "    elif isinstance(m, nn.Embedding):\n        nn.init.normal_(m.weight, 0.0, 0.02)\n"
                         "    elif isinstance(m, nn.BatchNorm2d) and m.affine:\n")]),
        Mutant("init_affine_free_bn", "dcgan_init assumes every BatchNorm2d has a weight (CBN's has none)",
               replace=[("    elif isinstance(m, nn.BatchNorm2d) and m.affine:\n", "    elif isinstance(m, nn.BatchNorm2d):\n")]),
        Mutant("init_bias_kept", "dcgan_init leaves the default biases of convolutions",
               replace=[("        if m.bias is not None:\n            nn.init.zeros_(m.bias)\n", "")]),
        Alternative("projection_discriminator", "projection D (Miyato & Koyama): the label only in the last layer, "
                    "D = wᵀφ(x) + b + e_yᵀφ(x)",
                    source='''class Discriminator(nn.Module):
    def __init__(self, n_classes=10, ch=64):
        super().__init__()
        self.phi = nn.Sequential(
            nn.Conv2d(1, ch, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(ch, 2 * ch, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * ch), nn.LeakyReLU(0.2))
        self.psi = nn.Linear(2 * ch, 1)
        self.embed = nn.Embedding(n_classes, 2 * ch)

    def features(self, x):
        return self.phi(x).sum(dim=(2, 3))

    def forward(self, x, y):
        h = self.features(x)
        return self.psi(h).squeeze(1) + (self.embed(y) * h).sum(dim=1)


def dcgan_init(m):
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.BatchNorm2d) and m.affine:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)
    ### END SOLUTION'''),
        Alternative("embedding_plane_named_params", "the lecture's learnable label plane (nn.Embedding(n, 784)); "
                    "init by named parameters",
                    source='''class Discriminator(nn.Module):
    def __init__(self, n_classes=10, ch=64):
        super().__init__()
        self.plane = nn.Embedding(n_classes, 28 * 28)
        self.c1 = nn.Conv2d(2, ch, 4, 2, 1)
        self.c2 = nn.Conv2d(ch, 2 * ch, 4, 2, 1)
        self.bn = nn.BatchNorm2d(2 * ch)
        self.out = nn.Conv2d(2 * ch, 1, 7)

    def forward(self, x, y):
        h = torch.cat([x, self.plane(y).view(-1, 1, 28, 28)], dim=1)
        h = F.leaky_relu(self.c1(h), 0.2)
        h = F.leaky_relu(self.bn(self.c2(h)), 0.2)
        return self.out(h).view(-1)


def dcgan_init(m):
    if isinstance(m, nn.Embedding):
        return
    for name, p in m.named_parameters(recurse=False):
        if name == "bias":
            nn.init.zeros_(p)
        elif name == "weight" and isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(p, 1.0, 0.02)
        elif name == "weight" and isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(p, 0.0, 0.02)
'''),
    ],
    "task-3": [
        Mutant("bce_losses", "the lecture's BCE losses instead of the hinge loss",
               replace=[("    loss = F.relu(1 - D(x, y)).mean() + F.relu(1 + D(fake, y)).mean()\n",
                         "    real, fk = D(x, y), D(fake, y)\n"
                         "    loss = F.binary_cross_entropy_with_logits(real, torch.ones_like(real)) + "
                         "F.binary_cross_entropy_with_logits(fk, torch.zeros_like(fk))\n"),
                        ("    loss = -D(G(z, y), y).mean()\n",
                         "    logit = D(G(z, y), y)\n"
                         "    loss = F.binary_cross_entropy_with_logits(logit, torch.ones_like(logit))\n")]),
        Mutant("no_hinge_clip", "D loss without max(0, ·): the Wasserstein-style linear loss",
               replace=[("    loss = F.relu(1 - D(x, y)).mean() + F.relu(1 + D(fake, y)).mean()\n",
                         "    loss = (1 - D(x, y)).mean() + (1 + D(fake, y)).mean()\n")]),
        Mutant("hinge_signs_swapped", "relu(1 + D) on real and relu(1 − D) on fakes",
               replace=[("    loss = F.relu(1 - D(x, y)).mean() + F.relu(1 + D(fake, y)).mean()\n",
                         "    loss = F.relu(1 + D(x, y)).mean() + F.relu(1 - D(fake, y)).mean()\n")]),
        Mutant("random_fake_labels", "fakes generated for random labels instead of the batch's y",
               replace=[("        fake = G(z, y)\n", "        fake = G(z, torch.randint_like(y, 10))\n")]),
        Mutant("no_detach", "fakes not detached in the D step: G receives gradients",
               replace=[("    with torch.no_grad():\n        fake = G(z, y)\n", "    fake = G(z, y)\n")]),
        Mutant("no_zero_grad_d", "forgets opt_d.zero_grad(): gradients accumulate",
               replace=[("    opt_d.zero_grad()\n", "")]),
        Mutant("no_zero_grad_g", "forgets opt_g.zero_grad(): gradients accumulate",
               replace=[("    opt_g.zero_grad()\n", "")]),
        Mutant("hinge_for_g", "the generator also uses a hinge: relu(1 − D(G(z)))",
               replace=[("    loss = -D(G(z, y), y).mean()\n", "    loss = F.relu(1 - D(G(z, y), y)).mean()\n")]),
        Mutant("g_step_detached", "the G step detaches the fakes: G gets no gradient",
               replace=[("    loss = -D(G(z, y), y).mean()\n", "    loss = -D(G(z, y).detach(), y).mean()\n")]),
        Mutant("own_noise", "d_step ignores the given z and draws its own noise",
               replace=[("        fake = G(z, y)\n", "        fake = G(torch.randn_like(z), y)\n")]),
        Alternative("one_batch_clamp_module_zero_grad", "real and fake through D in one call, torch.clamp, "
                    "D.zero_grad()/G.zero_grad() before the forward pass",
                    source='''def d_step(G, D, opt_d, x, y, z):
    D.zero_grad()
    fake = G(z, y).detach()
    out = D(torch.cat([x, fake]), torch.cat([y, y]))
    real_out, fake_out = out[: len(x)], out[len(x):]
    loss = torch.clamp(1.0 - real_out, min=0).mean() + torch.clamp(1.0 + fake_out, min=0).mean()
    loss.backward()
    opt_d.step()
    return float(loss)


def g_step(G, D, opt_g, y, z):
    G.zero_grad(set_to_none=False)
    loss = D(G(z, y), y).mean().neg()
    loss.backward()
    opt_g.step()
    return float(loss)
'''),
    ],
    "task-4": [
        Mutant("no_eval", "samples the grid in train mode (CBN uses the grid's own batch statistics)",
               replace=[("    G.eval()\n", "")]),
        Mutant("no_no_grad", "samples with gradients enabled (then detaches)",
               replace=[("    with torch.no_grad():\n        images = G(z.to(dev), labels.to(dev)).cpu()\n",
                         "    images = G(z.to(dev), labels.to(dev)).detach().cpu()\n")]),
        Mutant("no_train_after", "leaves the generator in eval mode after class_grid",
               replace=[("    G.train()\n    return images, labels\n", "    return images, labels\n")]),
        Mutant("labels_interleaved", "labels 0, 1, …, 9, 0, 1, … (repeat) instead of rows by class",
               replace=[("torch.arange(10).repeat_interleave(n_per_class)", "torch.arange(10).repeat(n_per_class)")]),
        Mutant("seed_ignored", "noise from the global generator: the seed does not fix the grid",
               replace=[(", generator=torch.Generator().manual_seed(seed))", ")")]),
        Mutant("random_labels_for_g", "g_step gets random labels instead of the batch's y",
               replace=[("g_step(G, D, opt_g, y, ", "g_step(G, D, opt_g, torch.randint_like(y, 10), ")]),
        Mutant("default_betas", "Adam for D with the default betas (0.9, 0.999)",
               replace=[("    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))\n",
                         "    opt_d = torch.optim.Adam(D.parameters(), lr=lr)\n")]),
        Mutant("one_optimizer", "one Adam over the parameters of G and D, used for both steps",
               replace=[("    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999))\n"
                         "    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))\n",
                         "    opt_g = opt_d = torch.optim.Adam([*G.parameters(), *D.parameters()], lr=lr, betas=(0.5, 0.999))\n")]),
        Mutant("optimizers_per_batch", "creates the optimizers anew for every batch (Adam state lost)",
               replace=[("    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999))\n"
                         "    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))\n", ""),
                        ("        for x, y in torch_book.progress(loader, desc=f\"epoch {epoch + 1}/{epochs}\"):\n",
                         "        for x, y in torch_book.progress(loader, desc=f\"epoch {epoch + 1}/{epochs}\"):\n"
                         "            opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999))\n"
                         "            opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))\n")]),
        Mutant("fixed_noise", "draws the noise once before training and reuses it on every step",
               replace=[("    history = {\"loss_d\": [], \"loss_g\": []}\n",
                         "    history = {\"loss_d\": [], \"loss_g\": []}\n    z_fixed = None\n"),
                        ("            history[\"loss_d\"].append(d_step(G, D, opt_d, x, y, torch.randn(len(x), z_dim, device=x.device)))\n"
                         "            history[\"loss_g\"].append(g_step(G, D, opt_g, y, torch.randn(len(y), z_dim, device=y.device)))\n",
                         "            if z_fixed is None:\n"
                         "                z_fixed = torch.randn(len(x), z_dim, device=x.device)\n"
                         "            history[\"loss_d\"].append(d_step(G, D, opt_d, x, y, z_fixed))\n"
                         "            history[\"loss_g\"].append(g_step(G, D, opt_g, y, z_fixed))\n")]),
        Alternative("inference_mode_restore_mode", "class_grid under torch.inference_mode, labels by "
                    "repeat_interleave of a tensor; train_cgan with an explicit epoch counter",
                    replace=[('''    dev = next(G.parameters()).device
    labels = torch.arange(10).repeat_interleave(n_per_class)
    z = torch.randn(len(labels), z_dim, generator=torch.Generator().manual_seed(seed))
    G.eval()
    with torch.no_grad():
        images = G(z.to(dev), labels.to(dev)).cpu()
    G.train()
    return images, labels
''', '''    gen = torch.Generator()
    gen.manual_seed(seed)
    labels = torch.repeat_interleave(torch.arange(10), torch.full((10,), n_per_class))
    z = torch.randn(10 * n_per_class, z_dim, generator=gen)
    G.train(False)
    with torch.inference_mode():
        images = torch.cat([G(zc.to(cfg.device), yc.to(cfg.device)).to("cpu")
                            for zc, yc in zip(z.split(n_per_class), labels.split(n_per_class))])
    G.train(True)
    return images.clone(), labels
'''), ('''            history["loss_d"].append(d_step(G, D, opt_d, x, y, torch.randn(len(x), z_dim, device=x.device)))
            history["loss_g"].append(g_step(G, D, opt_g, y, torch.randn(len(y), z_dim, device=y.device)))
''', '''            z_d = torch.randn(x.size(0), z_dim).to(x.device)
            z_g = torch.randn(x.size(0), z_dim).to(x.device)
            history["loss_d"].append(d_step(G, D, opt_d, x, y, z_d))
            history["loss_g"].append(g_step(G, D, opt_g, y, z_g))
''')]),
    ],
    "task-5": [
        Mutant("full_matrix_mean", "mean over the whole distance matrix, diagonal zeros included",
               replace=[("torch.pdist(images.flatten(1).float()).mean().item()",
                         "torch.cdist(images.flatten(1).float(), images.flatten(1).float()).mean().item()")]),
        Mutant("squared_distances", "mean squared distance instead of distance",
               replace=[("torch.pdist(images.flatten(1).float()).mean().item()",
                         "torch.pdist(images.flatten(1).float()).pow(2).mean().item()")]),
        Mutant("per_pixel_distance", "distance divided by the number of pixels",
               replace=[("torch.pdist(images.flatten(1).float()).mean().item()",
                         "torch.pdist(images.flatten(1).float()).mean().item() / images[0].numel()")]),
        Mutant("pixel_std", "mean per-pixel standard deviation instead of pairwise distances",
               replace=[("torch.pdist(images.flatten(1).float()).mean().item()",
                         "images.flatten(1).float().std(0).mean().item()")]),
        Alternative("cdist_upper_triangle", "cdist and the upper triangle by torch.triu_indices",
                    source='''def diversity(images):
    v = images.reshape(len(images), -1).double()
    i, j = torch.triu_indices(len(v), len(v), offset=1)
    return float((v[i] - v[j]).norm(dim=1).mean())
'''),
    ],
}
