"""Variants of homework 4 (GTSRB with a CNN: class counts, augmentations, the model, training, error analysis).

See tests/mutation.py: a Mutant must fail its task's check, an Alternative (a correct solution written
differently from the reference) must pass it. Task 4 retrains the network for every variant, so it has
few variants, and those that only change the evaluation keep the training as it is.
"""

from mutation import Alternative, Mutant

VARIANTS = {
    "task-1": [
        Mutant("bincount_without_minlength", "bincount without minlength: trailing empty classes are missing",
               replace=[("    return torch.bincount(torch.as_tensor(labels).long(), minlength=num_classes)\n",
                         "    return torch.bincount(torch.as_tensor(labels).long())\n")]),
        Mutant("ratio_with_empty_classes", "the imbalance ratio divides by the count of an empty class",
               replace=[("    present = counts[counts > 0].double()\n", "    present = counts.double()\n")]),
        Mutant("ratio_inverted", "rarest / most frequent instead of most frequent / rarest",
               replace=[("    return (present.max() / present.min()).item()\n",
                         "    return (present.min() / present.max()).item()\n")]),
        Mutant("ratio_integer_division", "integer division of the counts, converted to float afterwards",
               replace=[("    present = counts[counts > 0].double()\n    return (present.max() / present.min()).item()\n",
                         "    present = counts[counts > 0]\n    return float(present.max() // present.min())\n")]),
        Mutant("float_counts", "counts as a float histogram (torch.histc)",
               replace=[("    return torch.bincount(torch.as_tensor(labels).long(), minlength=num_classes)\n",
                         "    return torch.histc(torch.as_tensor(labels).float(), bins=num_classes, min=0, max=num_classes - 1)\n")]),
        Alternative("loop_and_python_max", "a comparison per class, the ratio with Python's max/min",
                    replace=[("    return torch.bincount(torch.as_tensor(labels).long(), minlength=num_classes)\n",
                              "    labels = torch.as_tensor(labels)\n"
                              "    return torch.stack([(labels == c).sum() for c in range(num_classes)]).to(torch.int64)\n"),
                             ("    present = counts[counts > 0].double()\n    return (present.max() / present.min()).item()\n",
                              "    present = [int(c) for c in counts if c > 0]\n    return max(present) / min(present)\n")]),
    ],
    "task-2": [
        Mutant("horizontal_flip", "RandomHorizontalFlip in train_tf (turns «turn left» into «turn right»)",
               replace=[("        T.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.3),  # освещение\n",
                         "        T.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.3),  # освещение\n"
                         "        T.RandomHorizontalFlip(),\n")]),
        Mutant("vertical_flip", "RandomVerticalFlip in train_tf",
               replace=[("        T.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.3),  # освещение\n",
                         "        T.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.3),  # освещение\n"
                         "        T.RandomVerticalFlip(),\n")]),
        Mutant("resize_keeps_aspect", "Resize(size) resizes the shorter side only: non-square pictures stay non-square",
               replace=[("T.Resize((size, size), antialias=True)", "T.Resize(size, antialias=True)")]),
        Mutant("no_scale", "ToDtype without scale=True: pixels 0..255 are normalised with the [0, 1] statistics",
               replace=[("T.ToDtype(torch.float32, scale=True)", "T.ToDtype(torch.float32)")]),
        Mutant("augmented_test", "test_tf is train_tf (random augmentation at test time)",
               replace=[("    return train_tf, test_tf\n", "    return train_tf, train_tf\n")]),
        Mutant("no_normalize", "no Normalize: tensors in [0, 1]",
               replace=[("        T.Normalize(GTSRB_MEAN, GTSRB_STD),\n", "")]),
        Alternative("float_first_rotation_blur", "to float first, RandomRotation + blur + perspective, a shared tail",
                    source='''GTSRB_MEAN, GTSRB_STD = (0.34, 0.31, 0.32), (0.27, 0.26, 0.27)


def make_transforms(size: int = 32):
    base = [T.ToImage(), T.ToDtype(torch.float32, scale=True), T.Resize([size, size], antialias=True)]
    tail = [T.Normalize(mean=list(GTSRB_MEAN), std=list(GTSRB_STD))]
    augment = [
        T.RandomRotation(8),
        T.RandomPerspective(distortion_scale=0.15, p=0.5),
        T.RandomApply([T.GaussianBlur(3, sigma=(0.1, 1.0))], p=0.3),
        T.ColorJitter(brightness=0.3, contrast=0.3),
    ]
    return T.Compose(base + augment + tail), T.Compose(base + tail)


train_tf, test_tf = make_transforms(32)
'''),
    ],
    "task-3": [
        Mutant("no_padding", "3×3 convolutions without padding: the maps shrink and the classifier size is wrong",
               replace=[("nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)", "nn.Conv2d(c_in, c_out, 3, bias=False)"),
                        ("nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)", "nn.Conv2d(c_out, c_out, 3, bias=False)")]),
        Mutant("flatten_size_for_width_32", "the classifier's input size is written for width=32",
               replace=[("nn.Linear(4 * w * 4 * 4, 4 * w)", "nn.Linear(2048, 4 * w)")]),
        Mutant("no_pooling", "no max-pooling: the classifier gets 4w·32·32 features (tens of millions of weights)",
               replace=[("            nn.MaxPool2d(2),\n", ""),
                        ("nn.Linear(4 * w * 4 * 4, 4 * w)", "nn.Linear(4 * w * 32 * 32, 4 * w)")]),
        Mutant("softmax_output", "nn.Softmax at the end: the network returns probabilities, not logits",
               replace=[("        nn.Linear(4 * w, num_classes),\n", "        nn.Linear(4 * w, num_classes), nn.Softmax(dim=1),\n")]),
        Mutant("relu_on_logits", "a ReLU after the last linear layer: logits cannot be negative",
               replace=[("        nn.Linear(4 * w, num_classes),\n", "        nn.Linear(4 * w, num_classes), nn.ReLU(),\n")]),
        Mutant("dropout_always_on", "a hand-written forward with F.dropout(x, 0.3), which stays on in eval mode",
               source='''class SignNet(nn.Module):
    def __init__(self, num_classes, width):
        super().__init__()
        w = width
        self.features = nn.Sequential(
            nn.Conv2d(3, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(2 * w, 4 * w, 3, padding=1), nn.BatchNorm2d(4 * w), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.fc1, self.fc2 = nn.Linear(4 * w * 16, 4 * w), nn.Linear(4 * w, num_classes)

    def forward(self, x):
        x = F.dropout(self.features(x).flatten(1), 0.3)
        return self.fc2(F.dropout(F.relu(self.fc1(x)), 0.3))


def make_model(num_classes: int = 43, width: int = 32) -> nn.Module:
    return SignNet(num_classes, width)
'''),
        Alternative("global_average_pooling", "conv → BN → ReLU → pool ×3, then global average pooling and one linear layer",
                    source='''def make_model(num_classes: int = 43, width: int = 32) -> nn.Module:
    layers, c_in = [], 3
    for c_out in (width, 2 * width, 4 * width):
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
        c_in = c_out
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, num_classes))
'''),
        Alternative("module_with_functional_forward", "an nn.Module; F.relu/F.max_pool2d and F.dropout(training=self.training)",
                    source='''class SignNet(nn.Module):
    def __init__(self, num_classes, width):
        super().__init__()
        w = width
        self.convs = nn.ModuleList([nn.Conv2d(3, w, 3, padding=1), nn.Conv2d(w, 2 * w, 3, padding=1),
                                    nn.Conv2d(2 * w, 4 * w, 3, padding=1)])
        self.norms = nn.ModuleList([nn.BatchNorm2d(c) for c in (w, 2 * w, 4 * w)])
        self.fc1, self.fc2 = nn.Linear(4 * w * 16, 4 * w), nn.Linear(4 * w, num_classes)

    def forward(self, x):
        for conv, norm in zip(self.convs, self.norms):
            x = F.max_pool2d(F.relu(norm(conv(x))), 2)
        x = F.dropout(torch.flatten(x, 1), 0.3, training=self.training)
        return self.fc2(F.dropout(F.relu(self.fc1(x)), 0.3, training=self.training))


def make_model(num_classes: int = 43, width: int = 32) -> nn.Module:
    return SignNet(num_classes, width)
'''),
    ],
    "task-4": [
        Mutant("test_shuffled", "the test loader shuffles: predictions no longer follow the test set's order",
               replace=[("test_loader = DataLoader(test_set, batch_size=512, shuffle=False",
                         "test_loader = DataLoader(test_set, batch_size=512, shuffle=True")]),
        Mutant("accuracy_in_percent", "test_acc in percent (97.3) instead of a fraction",
               replace=[("test_acc = (test_preds == test_targets).float().mean().item()\n",
                         "test_acc = 100 * (test_preds == test_targets).float().mean().item()\n")]),
        Mutant("evaluated_on_train", "the «test» predictions are made on the training loader",
               replace=[("    for x, y in test_loader:\n", "    for x, y in train_loader:\n")]),
        Mutant("no_optimizer_step", "computes gradients but never calls optimizer.step()",
               replace=[("        optimizer.step()\n", "")]),
        Alternative("adam_plain_loop_inference_mode", "Adam without a schedule, a plain loop, evaluation under inference_mode",
                    source='''train_tf, test_tf = make_transforms(32)
train_loader = DataLoader(torch_book.data.gtsrb(split="train", transform=train_tf), batch_size=64, shuffle=True)
test_data = torch_book.data.gtsrb(split="test", transform=test_tf)
torch.manual_seed(cfg.seed)
net = make_model(NUM_CLASSES, width=cfg.pick(full=32, fast=8)).to(cfg.device)
opt = torch.optim.Adam(net.parameters(), lr=cfg.pick(full=1e-3, fast=5e-3))
for epoch in range(cfg.epochs(full=20, fast=4)):
    net.train()
    for images, labels in torch_book.progress(train_loader, desc=f"эпоха {epoch + 1}"):
        opt.zero_grad()
        F.cross_entropy(net(images.to(cfg.device)), labels.to(cfg.device)).backward()
        opt.step()
net.eval()
all_preds, all_labels = [], []
with torch.inference_mode():
    for images, labels in DataLoader(test_data, batch_size=256):
        all_preds.append(net(images.to(cfg.device)).argmax(1).cpu())
        all_labels.append(labels)
all_preds, all_labels = torch.cat(all_preds), torch.cat(all_labels)
results = dict(model=net, test_acc=float((all_preds == all_labels).double().mean()), test_preds=all_preds,
               test_targets=all_labels, test_transform=test_tf)
print(f"точность на тесте: {results['test_acc']:.2%}")
'''),
        Mutant("no_eval_mode", "predicts on the test set in train mode (BatchNorm batch statistics, Dropout on)",
               replace=[("model.eval()\npreds, targets = [], []\n", "preds, targets = [], []\n")]),
    ],
    "task-5": [
        Mutant("recall_over_predictions", "per-class accuracy divides by the number of predictions of the class (precision)",
               replace=[("    total = torch.bincount(targets, minlength=num_classes).double()\n",
                         "    total = torch.bincount(preds, minlength=num_classes).double()\n")]),
        Mutant("zero_for_empty_class", "a class without examples gets 0 instead of nan",
               replace=[("torch.tensor(float(\"nan\"), dtype=torch.float64)", "torch.tensor(0.0, dtype=torch.float64)")]),
        Mutant("diagonal_counted", "top_confusions counts correct answers (t == p) as confusions too",
               replace=[("    wrong = preds != targets\n", "    wrong = torch.ones_like(preds, dtype=torch.bool)\n")]),
        Mutant("ties_in_first_seen_order", "Counter.most_common: ties in the order the pairs first occur",
               replace=[("    unique, counts = torch.unique(pairs, dim=0, return_counts=True)\n"
                         "    rows = [(int(t), int(p), int(c)) for (t, p), c in zip(unique, counts)]\n"
                         "    return sorted(rows, key=lambda r: (-r[2], r[0], r[1]))[:k]\n",
                         "    from collections import Counter\n"
                         "    return [(t, p, c) for (t, p), c in Counter(map(tuple, pairs.tolist())).most_common(k)]\n")]),
        Mutant("ties_unstable_sort", "unique pairs ordered by torch.sort of the counts (not stable: ties in any order)",
               replace=[("    return sorted(rows, key=lambda r: (-r[2], r[0], r[1]))[:k]\n",
                         "    order = torch.sort(counts, descending=True).indices\n"
                         "    return [rows[i] for i in order.tolist()][:k]\n")]),
        Mutant("ties_descending", "ties ordered by descending (true, predicted)",
               replace=[("    return sorted(rows, key=lambda r: (-r[2], r[0], r[1]))[:k]\n",
                         "    return sorted(rows, key=lambda r: (r[2], r[0], r[1]), reverse=True)[:k]\n")]),
        Alternative("confusion_matrix_and_stable_sort", "a confusion matrix by index_put_, ties by a stable sort",
                    replace=[("    preds, targets = torch.as_tensor(preds).long(), torch.as_tensor(targets).long()\n"
                              "    wrong = preds != targets\n"
                              "    pairs = torch.stack([targets[wrong], preds[wrong]], dim=1)\n"
                              "    if len(pairs) == 0:\n"
                              "        return []\n"
                              "    unique, counts = torch.unique(pairs, dim=0, return_counts=True)\n"
                              "    rows = [(int(t), int(p), int(c)) for (t, p), c in zip(unique, counts)]\n"
                              "    return sorted(rows, key=lambda r: (-r[2], r[0], r[1]))[:k]\n",
                              "    preds, targets = torch.as_tensor(preds).long(), torch.as_tensor(targets).long()\n"
                              "    n = int(max(preds.max(), targets.max())) + 1 if len(preds) else 1\n"
                              "    cm = torch.zeros(n, n, dtype=torch.long)\n"
                              "    cm.index_put_((targets, preds), torch.ones_like(targets), accumulate=True)\n"
                              "    cm.fill_diagonal_(0)\n"
                              "    flat = cm.flatten()\n"
                              "    order = torch.sort(flat, descending=True, stable=True).indices\n"
                              "    out = [(int(i) // n, int(i) % n, int(flat[i])) for i in order if flat[i] > 0]\n"
                              "    return out[:k]\n")]),
    ],
}
