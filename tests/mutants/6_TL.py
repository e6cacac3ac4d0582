"""Variants of homework 6 (class subset and transforms, model and parameter groups, the transfer experiment,
ONNX export). See tests/mutation.py: a Mutant must fail its task's check, an Alternative must pass it.
"""

from mutation import Alternative, Mutant

VARIANTS = {
    "task-1": [
        Mutant("labels_in_dataset_order", "numbers the classes in the dataset's order, not in the order of class_names",
               replace=[("        old_labels = [dataset.classes.index(name) for name in class_names]\n",
                         "        old_labels = sorted(dataset.classes.index(name) for name in class_names)\n")]),
        Mutant("last_per_class", "takes the last per_class examples of each class instead of the first",
               replace=[("        for i, y in enumerate(dataset.targets):\n",
                         "        for i, y in reversed(list(enumerate(dataset.targets))):\n")]),
        Mutant("tensor_targets", "keeps the labels as tensors, not int",
               replace=[("                self.targets.append(new_label[y])\n",
                         "                self.targets.append(torch.tensor(new_label[y]))\n")]),
        Mutant("half_normalisation", "normalises with mean = std = 0.5 instead of ImageNet's MEAN and STD",
               replace=[("T.Normalize(MEAN, STD)", "T.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))")]),
        Mutant("no_augmentation", "train=True adds no random transform",
               replace=[("        steps += [T.RandomCrop(image_size, padding=image_size // 8, padding_mode=\"reflect\"), T.RandomHorizontalFlip()]\n",
                         "        steps += [T.CenterCrop(image_size)]\n")]),
        Mutant("no_resize", "forgets to resize the 32 px images to image_size",
               replace=[("    steps = [T.Resize(image_size)]\n", "    steps = []\n"),
                        ("T.RandomCrop(image_size, padding=image_size // 8, padding_mode=\"reflect\")",
                         "T.RandomCrop(image_size, padding=image_size // 8, pad_if_needed=True)")]),
        Alternative("comprehension_and_v2", "indices by list comprehensions per class; torchvision.transforms.v2 with RandomResizedCrop",
                    source='''class ClassSubset(Dataset):
    def __init__(self, dataset, class_names, per_class=None, transform=None):
        self.dataset, self.transform, self.classes = dataset, transform, list(class_names)
        targets = [int(y) for y in dataset.targets]
        chosen = []
        for new, name in enumerate(class_names):
            old = dataset.classes.index(name)
            idx = [i for i, y in enumerate(targets) if y == old]
            chosen += [(i, new) for i in (idx if per_class is None else idx[:per_class])]
        chosen.sort()
        self.indices = [i for i, _ in chosen]
        self.targets = [new for _, new in chosen]

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, i):
        image = self.dataset[self.indices[i]][0]
        return (self.transform(image) if self.transform else image), self.targets[i]


def make_transforms(image_size, train):
    from torchvision.transforms import v2

    ops = [v2.ToImage()]
    if train:
        ops += [v2.RandomResizedCrop(image_size, scale=(0.7, 1.0), antialias=True), v2.RandomHorizontalFlip()]
    else:
        ops += [v2.Resize((image_size, image_size), antialias=True)]
    return v2.Compose(ops + [v2.ToDtype(torch.float32, scale=True), v2.Normalize(MEAN, STD)])


demo = ClassSubset(raw_train, CLASSES, per_class=4, transform=make_transforms(IMG, train=True))
'''),
    ],
    "task-2": [
        Mutant("head_frozen_too", "freezes after replacing the head, so the new head is frozen as well",
               replace=[("    for p in model.parameters():\n        p.requires_grad_(not freeze_backbone)\n"
                         "    model.fc = nn.Linear(model.fc.in_features, num_classes)\n",
                         "    model.fc = nn.Linear(model.fc.in_features, num_classes)\n"
                         "    for p in model.parameters():\n        p.requires_grad_(not freeze_backbone)\n")]),
        Mutant("freeze_ignored", "never freezes the backbone (training the backbone that should be frozen)",
               replace=[("        p.requires_grad_(not freeze_backbone)\n", "        p.requires_grad_(True)\n")]),
        Mutant("one_group", "a single parameter group with the head's learning rate",
               replace=[('    return torch.optim.Adam([{"params": body, "lr": backbone_lr}, {"params": head, "lr": head_lr}])\n',
                         "    return torch.optim.Adam(model.parameters(), lr=head_lr)\n")]),
        Mutant("groups_swapped", "puts the head first and the backbone second",
               replace=[('[{"params": body, "lr": backbone_lr}, {"params": head, "lr": head_lr}]',
                         '[{"params": head, "lr": head_lr}, {"params": body, "lr": backbone_lr}]')]),
        Mutant("head_in_body", "the backbone group also contains the head's parameters",
               replace=[("    body = [p for p in model.parameters() if p.requires_grad and id(p) not in head_ids]\n",
                         "    body = [p for p in model.parameters() if p.requires_grad]\n")]),
        Mutant("frozen_in_optimizer", "adds the frozen backbone parameters to the optimizer",
               replace=[("    body = [p for p in model.parameters() if p.requires_grad and id(p) not in head_ids]\n",
                         "    body = [p for p in model.parameters() if id(p) not in head_ids]\n")]),
        Mutant("weights_bypass", "loads the weights straight from torchvision instead of load_pretrained (fails offline)",
               replace=[("        model, loaded = torch_book.pretrained.load_pretrained(models.resnet18, WEIGHTS)\n",
                         "        model, loaded = models.resnet18(weights=WEIGHTS), True\n")]),
        Alternative("named_parameters", "head swapped in first and unfrozen; groups by the 'fc.' name prefix",
                    source='''def build_model(num_classes, pretrained, freeze_backbone=False):
    model, loaded = (torch_book.pretrained.load_pretrained(models.resnet18, WEIGHTS) if pretrained
                     else (models.resnet18(), False))
    model.fc = nn.Linear(512, num_classes)
    if freeze_backbone:
        for name, p in model.named_parameters():
            p.requires_grad = name.startswith("fc.")
    return model, loaded


def make_optimizer(model, head_lr, backbone_lr):
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    body = [p for n, p in trainable if not n.startswith("fc.")]
    head = [p for n, p in trainable if n.startswith("fc.")]
    return torch.optim.Adam([dict(params=body, lr=backbone_lr), dict(params=head, lr=head_lr)])
'''),
    ],
    "task-3": [
        Mutant("trains_on_test", "test-data leakage: the training subset is taken from raw_test",
               replace=[("    train_data = ClassSubset(raw_train, CLASSES, per_class, make_transforms(image_size, train=True))\n",
                         "    train_data = ClassSubset(raw_test, CLASSES, per_class, make_transforms(image_size, train=True))\n")]),
        Mutant("whole_test_set", "ignores test_per_class and evaluates on the whole test subset",
               replace=[("ClassSubset(raw_test, CLASSES, test_per_class,", "ClassSubset(raw_test, CLASSES, None,")]),
        Mutant("same_lr_pretrained", "gives the pretrained backbone the head's learning rate",
               replace=[("backbone_lr=1e-4 if pretrained else 1e-3", "backbone_lr=1e-3")]),
        Mutant("small_lr_scratch", "gives the network trained from scratch a 10× smaller backbone learning rate too",
               replace=[("backbone_lr=1e-4 if pretrained else 1e-3", "backbone_lr=1e-4")]),
        Mutant("no_seed", "does not fix the seed: two runs see different initialisations and batches",
               replace=[("    torch.manual_seed(seed)\n", "")]),
        Mutant("own_optimizer", "builds Adam directly instead of make_optimizer (the required groups are not checked)",
               replace=[("    optimizer = make_optimizer(model, head_lr=1e-3, backbone_lr=1e-4 if pretrained else 1e-3)\n",
                         "    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)\n")]),
        Alternative("own_loop", "its own training loop and history dict, workers from worker_count, seed via torch.random",
                    source='''def run_experiment(pretrained, per_class=PER_CLASS, epochs=EPOCHS, image_size=IMG, device=cfg.device,
                   test_per_class=None, seed=0):
    torch.random.manual_seed(seed)
    tr = ClassSubset(raw_train, CLASSES, per_class=per_class, transform=make_transforms(image_size, train=True))
    te = ClassSubset(raw_test, CLASSES, per_class=test_per_class, transform=make_transforms(image_size, train=False))
    nw = torch_book.loaders.worker_count(0)
    train_loader = DataLoader(tr, batch_size=32, shuffle=True, num_workers=nw)
    test_loader = DataLoader(te, batch_size=128, num_workers=nw)
    model, loaded = build_model(len(CLASSES), pretrained=pretrained)
    model.to(device)
    head_lr = 1e-3
    optimizer = make_optimizer(model, head_lr=head_lr, backbone_lr=head_lr / 10 if pretrained else head_lr)
    history = {k: [] for k in ("train_loss", "train_acc", "val_loss", "val_acc")}
    for _ in range(epochs):
        model.train()
        total, correct, n = 0.0, 0, 0
        for x, y in train_loader:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            logits = model(x)
            loss = nn.functional.cross_entropy(logits, y)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(y)
            correct += (logits.argmax(1) == y).sum().item()
            n += len(y)
        history["train_loss"].append(total / n)
        history["train_acc"].append(correct / n)
        vl, va = train.evaluate(model, test_loader, nn.CrossEntropyLoss(), device)
        history["val_loss"].append(vl)
        history["val_acc"].append(va)
    return model, history, loaded
'''),
    ],
    "task-4": [
        Mutant("static_batch", "exports without a dynamic batch dimension",
               replace=[("                      input_names=[\"images\"], output_names=[\"logits\"],\n"
                         "                      dynamic_shapes=({0: torch.export.Dim(\"batch\")},))\n",
                         "                      input_names=[\"images\"], output_names=[\"logits\"])\n")]),
        Mutant("default_names", "leaves the exporter's default input and output names",
               replace=[("                      input_names=[\"images\"], output_names=[\"logits\"],\n", "")]),
        Mutant("exports_the_original", "switches the caller's model to eval() instead of exporting a copy",
               replace=[("    model = copy.deepcopy(model).cpu().eval()\n    example = torch.randn(2, 3, image_size, image_size)\n",
                         "    model = model.cpu().eval()\n    example = torch.randn(2, 3, image_size, image_size)\n")]),
        Mutant("compares_in_train_mode", "onnx_max_abs_diff runs the PyTorch model in train mode",
               replace=[("    model = copy.deepcopy(model).cpu().eval()\n    session = ort.InferenceSession",
                         "    model = copy.deepcopy(model).cpu()\n    session = ort.InferenceSession")]),
        Mutant("mean_not_max", "returns the mean absolute difference instead of the maximum",
               replace=[("        worst = max(worst, (torch.from_numpy(ort_out) - torch_out).abs().max().item())\n",
                         "        worst = max(worst, (torch.from_numpy(ort_out) - torch_out).abs().mean().item())\n")]),
        Mutant("seconds_not_ms", "latency in seconds",
               replace=[("    return 1000 * float(np.median(times))\n", "    return float(np.median(times))\n")]),
        Mutant("mean_latency", "mean instead of median: one slow call dominates",
               replace=[("    return 1000 * float(np.median(times))\n", "    return 1000 * float(np.mean(times))\n")]),
        Mutant("no_warmup", "no warm-up call before timing",
               replace=[("    fn(x)\n    times = []\n", "    times = []\n")]),
        Alternative("lecture_dict_shapes", "the lecture's dynamic_shapes={'x': …}, ORT names read from the session, perf_counter_ns",
                    source='''def export_onnx(model, path, image_size):
    cpu_copy = copy.deepcopy(model).to("cpu")
    cpu_copy.eval()
    path = Path(path)
    torch.onnx.export(cpu_copy, (torch.zeros(1, 3, image_size, image_size),), str(path), dynamo=True,
                      input_names=["images"], output_names=["logits"],
                      dynamic_shapes={"x": {0: torch.export.Dim("batch", min=1, max=4096)}})
    return path


def onnx_max_abs_diff(model, onnx_path, batch_sizes=(1, 4), image_size=32, seed=0):
    reference = copy.deepcopy(model).to("cpu").eval()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    input_name, output_name = session.get_inputs()[0].name, session.get_outputs()[0].name
    torch.manual_seed(seed)
    diffs = []
    for b in batch_sizes:
        x = torch.randn(b, 3, image_size, image_size)
        with torch.no_grad():
            expected = reference(x).numpy()
        got = session.run([output_name], {input_name: x.numpy()})[0]
        diffs.append(float(np.abs(got - expected).max()))
    return max(diffs)


def latency_ms(fn, x, repeats=10):
    import statistics

    fn(x)
    samples = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        fn(x)
        samples.append((time.perf_counter_ns() - start) / 1e6)
    return float(statistics.median(samples))
'''),
    ],
}
