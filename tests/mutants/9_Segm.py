"""Variants of homework 9 (segmentation of Oxford-IIIT Pet): see tests/mutation.py."""

from mutation import Alternative, Mutant

VARIANTS = {
    "task-1": [
        Mutant("border_pet_as_background", "border='pet' maps the trimap border (3) to background",
               replace=[("        target = target | (trimap == 3)\n", "        pass\n")]),
        Mutant("ignore_keeps_border_valid", "border='ignore' zeroes the border in target but leaves it valid",
               replace=[("        valid = trimap != 3\n", "        valid = torch.ones_like(trimap, dtype=torch.bool)\n")]),
        Mutant("ignore_border_target_one", "border='ignore' marks the border invalid but keeps target = 1 there",
               replace=[("    target = trimap == 1\n", "    target = trimap != 2\n")]),
        Mutant("iou_over_batch_pixels", "IoU/Dice over all pixels of the batch, repeated per image (statement: per image)",
               replace=[("    return (inter + eps) / (union + eps), (2 * inter + eps) / (total + eps)\n",
                         "    n = len(inter)\n"
                         "    return (((inter.sum() + eps) / (union.sum() + eps)).expand(n),\n"
                         "            ((2 * inter.sum() + eps) / (total.sum() + eps)).expand(n))\n")]),
        Mutant("valid_ignored", "iou_dice counts every pixel, not only the valid ones",
               replace=[("    pred, target = (pred & valid).flatten(1), (target & valid).flatten(1)\n",
                         "    pred, target = pred.flatten(1), target.flatten(1)\n")]),
        Mutant("valid_only_on_pred", "masks the prediction with valid but not the target",
               replace=[("    pred, target = (pred & valid).flatten(1), (target & valid).flatten(1)\n",
                         "    pred, target = (pred & valid).flatten(1), target.flatten(1)\n")]),
        Mutant("no_eps", "IoU/Dice without ε: empty masks give NaN instead of 1",
               replace=[("    return (inter + eps) / (union + eps), (2 * inter + eps) / (total + eps)\n",
                         "    return inter / union, 2 * inter / total\n")]),
        Alternative("isin_and_float_sums", "torch.isin for the target, IoU from float sums (|P| + |T| − |P∩T|)",
                    source='''def trimap_to_target(trimap: torch.Tensor, border: str = "pet") -> tuple[torch.Tensor, torch.Tensor]:
    t = torch.as_tensor(trimap)
    if border == "pet":
        return torch.isin(t, torch.tensor([1, 3], dtype=t.dtype)).to(torch.float32), torch.ones(t.shape, dtype=torch.bool)
    if border == "ignore":
        return (t == 1).to(torch.float32), t != 3
    raise ValueError(f"unknown border mode: {border}")


def iou_dice(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None = None,
             eps: float = 1e-7) -> tuple[torch.Tensor, torch.Tensor]:
    n = len(pred)
    w = torch.ones(pred.shape) if valid is None else valid.float()
    p = pred.float().reshape(n, -1) * w.reshape(n, -1)
    t = target.float().reshape(n, -1) * w.reshape(n, -1)
    inter = (p * t).sum(dim=1)
    size = p.sum(dim=1) + t.sum(dim=1)
    return (inter + eps) / (size - inter + eps), (2 * inter + eps) / (size + eps)
'''),
    ],
    "task-2": [
        Mutant("dice_without_smoothing", "Dice without ε in the numerator: an empty mask predicted right gives loss 1",
               replace=[("    dice = (2 * inter + eps) / (p.sum(dims) + t.sum(dims) + eps)\n",
                         "    dice = 2 * inter / (p.sum(dims) + t.sum(dims) + eps)\n")]),
        Mutant("bce_on_probabilities", "BCE-with-logits applied to sigmoid(logits), i.e. to probabilities",
               replace=[("F.binary_cross_entropy_with_logits(logits, target, reduction=\"none\")",
                         "F.binary_cross_entropy_with_logits(torch.sigmoid(logits), target, reduction=\"none\")")]),
        Mutant("per_image_ignored", "per_image=True still sums over the whole batch",
               replace=[("    dims = tuple(range(1, p.dim())) if per_image else tuple(range(p.dim()))\n",
                         "    dims = tuple(range(p.dim()))\n")]),
        Mutant("bce_mean_over_all_pixels", "BCE of the valid pixels divided by the number of all pixels",
               replace=[("    bce = (per_pixel * w).sum() / w.sum().clamp_min(1)\n", "    bce = (per_pixel * w).mean()\n")]),
        Mutant("valid_only_on_probabilities", "Dice masks the probabilities but not the target",
               replace=[("    p, t = p * w, target * w\n", "    p, t = p * w, target\n")]),
        Mutant("dice_on_logits", "soft Dice computed from logits instead of sigmoid probabilities",
               replace=[("    p = torch.sigmoid(logits)\n", "    p = logits\n")]),
        Alternative("where_and_indexing", "torch.where for the valid mask, BCE on logits[valid], reshape per image",
                    source='''def soft_dice_loss(logits: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None = None,
                   per_image: bool = False, eps: float = 1e-7) -> torch.Tensor:
    p = torch.sigmoid(logits)
    if valid is not None:
        p = torch.where(valid, p, torch.zeros_like(p))
        target = torch.where(valid, target, torch.zeros_like(target))
    rows = len(p) if per_image else 1
    p, target = p.reshape(rows, -1), target.reshape(rows, -1)
    num = 2 * (p * target).sum(dim=1) + eps
    den = p.sum(dim=1) + target.sum(dim=1) + eps
    return (1 - num / den).mean()


def bce_dice_loss(logits: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None = None,
                  dice_weight: float = 1.0) -> torch.Tensor:
    mask = torch.ones_like(target, dtype=torch.bool) if valid is None else valid.bool()
    bce = F.binary_cross_entropy_with_logits(logits[mask], target[mask])
    return bce + dice_weight * soft_dice_loss(logits, target, valid)
'''),
    ],
    "task-3": [
        Mutant("separate_calls", "image and mask transformed by two calls: two sets of random parameters",
               replace=[("        image, mask = self.geometry(image, mask)      # одни и те же случайные параметры для обоих\n",
                         "        image = self.geometry(image)\n        mask = self.geometry(mask)\n")]),
        Mutant("augment_image_only", "random geometry on the image; the mask is only resized",
               replace=[("        image, mask = self.geometry(image, mask)      # одни и те же случайные параметры для обоих\n",
                         "        image = self.geometry(image)\n"
                         "        mask = v2.functional.resize(mask, list(image.shape[-2:]))\n")]),
        Mutant("affine_without_fill", "RandomAffine zoom-out/shift with the default fill 0 (0 is not background)",
               replace=[("            v2.RandomResizedCrop((size, size), scale=(0.5, 1.0), ratio=(3 / 4, 4 / 3)),\n",
                         "            v2.Resize((size, size)),\n"
                         "            v2.RandomAffine(degrees=0, translate=(0.15, 0.15), scale=(0.6, 0.9)),\n")]),
        Mutant("border_as_background", "the mask keeps only trimap value 1: the border becomes background",
               replace=[("(mask != 2).float()", "(mask == 1).float()")]),
        Mutant("mask_as_image", "trimap wrapped as tv_tensors.Image: interpolated like pixels (bilinear)",
               replace=[("        mask = tv_tensors.Mask(v2.functional.pil_to_tensor(trimap))\n",
                         "        mask = tv_tensors.Image(v2.functional.pil_to_tensor(trimap))\n")]),
        Mutant("no_flip", "forgets the random horizontal flip",
               replace=[("            v2.RandomHorizontalFlip(p=0.5),\n", "")]),
        Mutant("no_normalize", "scales to [0, 1] but does not normalise with the ImageNet mean and std",
               replace=[("v2.Compose([v2.ToDtype(torch.float32, scale=True), v2.Normalize(MEAN, STD)])",
                         "v2.ToDtype(torch.float32, scale=True)")]),
        Alternative("affine_with_fill_one_pipeline", "one v2 pipeline: Resize, RandomAffine with a mask fill, flip, "
                    "ColorJitter on the pair (masks pass through), ToDtype, Normalize",
                    source='''class TrainTransform:
    def __init__(self, size: int):
        self.pipeline = v2.Compose([
            v2.Resize((size, size)),
            v2.RandomAffine(degrees=10, translate=(0.1, 0.1), scale=(0.8, 1.2),
                            fill={tv_tensors.Image: 0, tv_tensors.Mask: 2}),
            v2.RandomHorizontalFlip(),
            v2.ColorJitter(brightness=0.3, contrast=0.3, saturation=0.3, hue=0.05),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(MEAN, STD),
        ])

    def __call__(self, image: Image.Image, trimap: Image.Image) -> tuple[torch.Tensor, torch.Tensor]:
        img, mask = self.pipeline(tv_tensors.Image(v2.functional.pil_to_tensor(image)),
                                  tv_tensors.Mask(v2.functional.pil_to_tensor(trimap)))
        return img.as_subclass(torch.Tensor), (mask != 2).to(torch.float32).as_subclass(torch.Tensor)
'''),
    ],
    "task-4": [
        Mutant("logit_threshold_half", "thresholds the logits at 0.5 instead of 0",
               replace=[("            pred = model(x[None].to(device)).cpu() > 0\n",
                         "            pred = model(x[None].to(device)).cpu() > 0.5\n")]),
        Mutant("sigmoid_threshold_zero", "thresholds the probabilities at 0 (every pixel is a pet)",
               replace=[("            pred = model(x[None].to(device)).cpu() > 0\n",
                         "            pred = torch.sigmoid(model(x[None].to(device))).cpu() > 0\n")]),
        Mutant("no_eval", "forgets model.eval()", replace=[("    model.eval()\n", "")]),
        Mutant("no_no_grad", "evaluates with gradients enabled",
               replace=[("    with torch.no_grad():\n", "    if True:\n")]),
        Mutant("best_first", "sorts by IoU descending (best, not worst)",
               replace=[("key=lambda i: ious[i])[:k]", "key=lambda i: -ious[i])[:k]")]),
        Mutant("dice_instead_of_iou", "reports Dice instead of IoU",
               replace=[("iou_dice(pred, y[None])[0].item()", "iou_dice(pred, y[None])[1].item()")]),
        Alternative("batched_topk", "DataLoader batches, inference_mode, sigmoid > 0.5, torch.topk(largest=False)",
                    source='''def worst_predictions(model: nn.Module, dataset, k: int, device="cpu") -> list[tuple[int, float]]:
    model.eval()
    scores = []
    with torch.inference_mode():
        for xb, yb in DataLoader(dataset, batch_size=2):
            prob = torch.sigmoid(model(xb.to(device))).cpu()
            scores.append(iou_dice(prob > 0.5, yb)[0])
    scores = torch.cat(scores)
    values, order = torch.topk(scores, min(k, len(scores)), largest=False)
    return list(zip(order.tolist(), values.tolist()))
'''),
    ],
    "task-5": [
        Mutant("weights_not_copied", "build_unet loads the pretrained backbone but never copies it into the encoder",
               replace=[("    model.encoder.load_state_dict(state, strict=True)\n", "")]),
        Mutant("sigmoid_output", "smp.Unet(activation='sigmoid'): the model returns probabilities, not logits",
               replace=[("in_channels=3, classes=1)", "in_channels=3, classes=1, activation=\"sigmoid\")")]),
        Mutant("two_output_channels", "two output channels (classes=2) instead of one logit per pixel",
               replace=[("in_channels=3, classes=1)", "in_channels=3, classes=2)")]),
        Mutant("no_optimizer_step", "forgets optimizer.step(): the model never changes",
               replace=[("            optimizer.step()\n", "")]),
        Alternative("resnet18_adam_bce_cosine", "ResNet-18, smp's own load_state_dict (drops fc.*), Adam, BCE only, "
                    "CosineAnnealingLR",
                    source='''ENCODERS = {"resnet18": (torchvision.models.resnet18, ResNet18_Weights.DEFAULT),
            "resnet34": (torchvision.models.resnet34, ResNet34_Weights.DEFAULT),
            "resnet50": (torchvision.models.resnet50, ResNet50_Weights.DEFAULT)}


def build_unet(encoder: str = "resnet34") -> tuple[nn.Module, bool]:
    net, loaded = torch_book.pretrained.load_pretrained(*ENCODERS[encoder])
    unet = smp.Unet(encoder, encoder_weights=None, classes=1)
    unet.encoder.load_state_dict(net.state_dict())          # smp drops fc.* itself
    assert torch.equal(unet.encoder.conv1.weight, net.conv1.weight)
    return unet, loaded


def train_segmenter(train_raw, epochs: int, device) -> nn.Module:
    torch.manual_seed(0)
    model = build_unet("resnet18")[0].to(device)
    data = DataLoader(WithTransforms(train_raw, TrainTransform(IMG)), batch_size=8, shuffle=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, epochs * len(data)))
    for _ in range(epochs):
        model.train()
        for xb, yb in data:
            loss = F.binary_cross_entropy_with_logits(model(xb.to(device)), yb.to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
    return model
'''),
    ],
}
