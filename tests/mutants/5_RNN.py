"""Variants of homework 5 (GRU by hand, masks, a bidirectional name classifier, a time-series forecast).

See tests/mutation.py: a Mutant must fail its task's check, an Alternative (a correct solution written
differently from the reference) must pass it.
"""

from mutation import Alternative, Mutant

VARIANTS = {
    "task-1": [
        Mutant("update_gate_swapped", "h = z·n + (1 − z)·h_prev: the convex combination the wrong way round",
               replace=[("    return (1 - z) * n + z * h_prev\n", "    return z * n + (1 - z) * h_prev\n")]),
        Mutant("reset_before_matmul", "Cho et al.'s variant: r applied to h_prev before W_hn (not PyTorch's r ⊙ (W_hn h + b_hn))",
               replace=[("    n = torch.tanh(i_n + r * h_n)\n",
                         "    H = h_prev.shape[1]\n"
                         "    n = torch.tanh(i_n + (r * h_prev) @ W_hh[2 * H:].T + b_hh[2 * H:])\n")]),
        Mutant("gate_order_zr", "reads the blocks in the order z, r, n instead of r, z, n",
               replace=[("    i_r, i_z, i_n = gi.chunk(3, dim=1)\n    h_r, h_z, h_n = gh.chunk(3, dim=1)\n",
                         "    i_z, i_r, i_n = gi.chunk(3, dim=1)\n    h_z, h_r, h_n = gh.chunk(3, dim=1)\n")]),
        Mutant("detached_state", "detaches the state between steps: the forward pass is right, gradients are cut",
               replace=[("        h = gru_step(x[:, t], h, W_ih, W_hh, b_ih, b_hh)\n",
                         "        h = gru_step(x[:, t], h.detach(), W_ih, W_hh, b_ih, b_hh)\n")]),
        Alternative("slices_and_linear", "weight slices per gate with F.linear, states collected in a preallocated tensor",
                    source='''def gru_step(x_t, h_prev, W_ih, W_hh, b_ih, b_hh):
    H = h_prev.shape[1]
    W_ir, W_iz, W_in = W_ih[:H], W_ih[H:2 * H], W_ih[2 * H:]
    W_hr, W_hz, W_hn = W_hh[:H], W_hh[H:2 * H], W_hh[2 * H:]
    b_ir, b_iz, b_in = b_ih[:H], b_ih[H:2 * H], b_ih[2 * H:]
    b_hr, b_hz, b_hn = b_hh[:H], b_hh[H:2 * H], b_hh[2 * H:]
    r = torch.sigmoid(F.linear(x_t, W_ir, b_ir) + F.linear(h_prev, W_hr, b_hr))
    z = torch.sigmoid(F.linear(x_t, W_iz, b_iz) + F.linear(h_prev, W_hz, b_hz))
    n = torch.tanh(F.linear(x_t, W_in, b_in) + r * F.linear(h_prev, W_hn, b_hn))
    return n + z * (h_prev - n)


def gru_forward(x, h0, W_ih, W_hh, b_ih, b_hh):
    states = []
    h = h0
    for x_t in x.unbind(dim=1):
        h = gru_step(x_t, h, W_ih, W_hh, b_ih, b_hh)
        states.append(h)
    return torch.stack(states, dim=1), states[-1]
'''),
    ],
    "task-2": [
        Mutant("last_padded_step", "last_valid takes outputs[:, -1], the last padded position",
               replace=[("    rows = torch.arange(outputs.shape[0], device=outputs.device)\n"
                         "    return outputs[rows, lengths.to(outputs.device) - 1]\n",
                         "    return outputs[:, -1]\n")]),
        Mutant("off_by_one", "last_valid indexes lengths instead of lengths − 1 (clamped to stay in range)",
               replace=[("    return outputs[rows, lengths.to(outputs.device) - 1]\n",
                         "    return outputs[rows, lengths.to(outputs.device).clamp(max=outputs.shape[1] - 1)]\n")]),
        Mutant("mean_over_padding", "masked_mean divides the masked sum by T instead of by the length",
               replace=[("    return summed / lengths[:, None].to(outputs.dtype)\n",
                         "    return summed / outputs.shape[1]\n")]),
        Mutant("mask_le", "lengths_to_mask uses <=, so one padding step counts as real",
               replace=[("[None, :] < lengths[:, None]", "[None, :] <= lengths[:, None]")]),
        Mutant("float_mask", "lengths_to_mask returns a float mask",
               replace=[("    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]\n",
                         "    return (torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]).float()\n")]),
        Alternative("gather_and_multiply", "gather for the last step, mask multiplication for the mean, expand for the mask",
                    source='''def lengths_to_mask(lengths, max_len=None):
    if max_len is None:
        max_len = lengths.max().item()
    steps = torch.arange(max_len, device=lengths.device).expand(len(lengths), max_len)
    return steps < lengths.unsqueeze(1)


def last_valid(outputs, lengths):
    index = (lengths.to(outputs.device) - 1).view(-1, 1, 1).expand(-1, 1, outputs.shape[2])
    return outputs.gather(1, index).squeeze(1)


def masked_mean(outputs, lengths):
    mask = lengths_to_mask(lengths, outputs.shape[1]).to(outputs.device).unsqueeze(-1)
    return (outputs * mask).sum(dim=1) / mask.sum(dim=1)
'''),
    ],
    "task-3": [
        Mutant("no_packing_last_padded", "runs the RNN on the padded batch and takes the output at the last padded step",
               replace=[("        packed = pack_padded_sequence(self.emb(x), lengths.cpu(), batch_first=True, enforce_sorted=False)\n"
                         "        _, h_n = self.rnn(packed)                        # (num_layers * 2, B, hidden)\n"
                         "        last = torch.cat([h_n[-2], h_n[-1]], dim=1)     # прямое и обратное направления последнего слоя\n",
                         "        out, _ = self.rnn(self.emb(x))\n"
                         "        last = out[:, -1]\n")]),
        Mutant("enforce_sorted_default", "packs without enforce_sorted=False while the batch is not sorted by length",
               replace=[(", enforce_sorted=False)", ")")]),
        Mutant("sorted_not_restored", "sorts the batch by length for packing and forgets to restore the order",
               replace=[("        packed = pack_padded_sequence(self.emb(x), lengths.cpu(), batch_first=True, enforce_sorted=False)\n",
                         "        lengths, order = lengths.cpu().sort(descending=True)\n"
                         "        packed = pack_padded_sequence(self.emb(x[order.to(x.device)]), lengths, batch_first=True)\n")]),
        Mutant("backward_at_last_real_step", "takes both directions at the last real step (the backward one has read one character)",
               replace=[("        _, h_n = self.rnn(packed)                        # (num_layers * 2, B, hidden)\n"
                         "        last = torch.cat([h_n[-2], h_n[-1]], dim=1)     # прямое и обратное направления последнего слоя\n",
                         "        out, _ = self.rnn(packed)\n"
                         "        out, _ = pad_packed_sequence(out, batch_first=True)\n"
                         "        last = out[torch.arange(len(out), device=out.device), lengths.to(out.device) - 1]\n")]),
        Mutant("first_layer_states", "concatenates h_n[0] and h_n[1], the first layer's directions, not the last layer's",
               replace=[("torch.cat([h_n[-2], h_n[-1]], dim=1)", "torch.cat([h_n[0], h_n[1]], dim=1)")]),
        Mutant("unidirectional", "a unidirectional GRU (the head takes the last state twice)",
               replace=[("batch_first=True, bidirectional=True)", "batch_first=True)"),
                        ("torch.cat([h_n[-2], h_n[-1]], dim=1)", "torch.cat([h_n[-1], h_n[-1]], dim=1)")]),
        Alternative("lstm_outputs_by_direction", "one-layer bidirectional LSTM; forward half at the last real step, backward half at step 0",
                    source='''class BiNameClassifier(nn.Module):
    def __init__(self, vocab_size, n_classes):
        super().__init__()
        self.hidden = 96
        self.emb = nn.Embedding(vocab_size, 48, padding_idx=PAD)
        self.rnn = nn.LSTM(48, self.hidden, batch_first=True, bidirectional=True)
        self.head = nn.Sequential(nn.Dropout(0.1), nn.Linear(2 * self.hidden, n_classes))

    def forward(self, x, lengths):
        packed = pack_padded_sequence(self.emb(x), lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True)
        rows = torch.arange(out.shape[0], device=out.device)
        forward_last = out[rows, lengths.to(out.device) - 1, : self.hidden]
        backward_last = out[:, 0, self.hidden :]
        return self.head(torch.cat([forward_last, backward_last], dim=1))
'''),
        Alternative("gru_masked_mean", "bidirectional GRU with the mean over real steps (both directions) as the summary",
                    source='''class BiNameClassifier(nn.Module):
    def __init__(self, vocab_size, n_classes):
        super().__init__()
        self.emb = nn.Embedding(vocab_size, 32, padding_idx=PAD)
        self.rnn = nn.GRU(32, 64, batch_first=True, bidirectional=True)
        self.head = nn.Linear(128, n_classes)

    def forward(self, x, lengths):
        packed = pack_padded_sequence(self.emb(x), lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True)
        return self.head(masked_mean(out, lengths))
'''),
    ],
    "task-4": [
        Mutant("persistence_first_value", "the naive forecast takes the first value of the window",
               replace=[("    return x[:, -1, 0]\n", "    return x[:, 0, 0]\n")]),
        Mutant("persistence_keeps_dim", "the naive forecast returns shape (B, 1)",
               replace=[("    return x[:, -1, 0]\n", "    return x[:, -1]\n")]),
        Mutant("first_step_output", "the forecaster reads the RNN output at the first step, not the last",
               replace=[("        _, h_n = self.rnn(x)\n        return self.head(h_n[-1]).squeeze(-1)\n",
                         "        out, _ = self.rnn(x)\n        return self.head(out[:, 0]).squeeze(-1)\n")]),
        Mutant("no_optimizer_step", "computes gradients but never calls optimizer.step()",
               replace=[("            optimizer.step()\n", "")]),
        Mutant("losses_per_batch", "returns one loss per batch instead of one per epoch",
               replace=[("            total += loss.item() * len(idx)\n",
                         "            total += loss.item() * len(idx)\n            losses.append(loss.item())\n"),
                        ("        losses.append(total / len(X))\n", "")]),
        Mutant("trains_on_test", "test-data leakage: fits on the training and the test windows together",
               replace=[("    X, y = X.to(device), y.to(device)\n",
                         "    X, y = torch.cat([X, X_test]).to(device), torch.cat([y, y_test]).to(device)\n")]),
        Alternative("lstm_dataloader_adam", "LSTM read at the last output step, TensorDataset + DataLoader, Adam with a step schedule",
                    source='''def persistence_forecast(x):
    return x[..., -1, :].squeeze(-1)


class Forecaster(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(input_size=1, hidden_size=48, batch_first=True)
        self.head = nn.Linear(48, 1)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1]).flatten()


def train_forecaster(model, X, y, epochs):
    model = model.to(device)
    loader = DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=max(1, epochs // 2), gamma=0.5)
    history = []
    for _ in range(epochs):
        model.train()
        batch_losses = []
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = F.mse_loss(model(xb.to(device)), yb.to(device))
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            batch_losses.append(loss.item() * len(xb))
        scheduler.step()
        history.append(sum(batch_losses) / len(X))
    return history
'''),
    ],
}
