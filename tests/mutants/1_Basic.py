"""Variants of homework 1 (differentiating a composite function): see tests/mutation.py."""

from mutation import Alternative, Mutant

VARIANTS = {
    "task-1": [
        Mutant("log_instead_of_log1p_halved", "forgets the ½ in front of ln(1 + x²)",
               replace=[("+ 0.5 * torch.log1p(x**2)\n", "+ torch.log1p(x**2)\n")]),
        Mutant("derivative_sign_slip", "drops the minus from the derivative of exp(−x²/8)",
               replace=[("(3 * torch.cos(3 * x) - x / 4 * torch.sin(3 * x))",
                         "(3 * torch.cos(3 * x) + x / 4 * torch.sin(3 * x))")]),
        Mutant("forgets_inner_derivative", "cos(3x) without the chain-rule factor 3",
               replace=[("(3 * torch.cos(3 * x) -", "(torch.cos(3 * x) -")]),
        Mutant("autograd_inside", "computes f' with autograd, which the task forbids (called under no_grad)",
               replace=[("    return torch.exp(-(x**2) / 8) * (3 * torch.cos(3 * x) - x / 4 * torch.sin(3 * x)) + x / (1 + x**2)\n",
                         "    xx = x.detach().requires_grad_(True)\n"
                         "    return torch.autograd.grad(f(xx).sum(), xx)[0]\n")]),
        Alternative("expanded_terms", "the product rule written out term by term, math.log form",
                    source='''def f(x: torch.Tensor) -> torch.Tensor:
    return torch.exp(-x * x / 8) * torch.sin(3 * x) + torch.log(1 + x * x) / 2


def df_manual(x: torch.Tensor) -> torch.Tensor:
    u, du = torch.sin(3 * x), 3 * torch.cos(3 * x)
    v = torch.exp(-x * x / 8)
    dv = v * (-x / 4)
    return du * v + u * dv + x / (1 + x * x)
'''),
    ],
    "task-2": [
        Mutant("backward_instead_of_grad", "uses backward() on the caller's tensor (changes x.grad)",
               replace=[("    x = x.detach().requires_grad_(True)\n    (dx,) = torch.autograd.grad(fn(x).sum(), x)\n    return dx.detach()\n",
                         "    if not x.requires_grad:\n        x = x.detach().requires_grad_(True)\n"
                         "    fn(x).sum().backward()\n    return x.grad.detach().clone()\n")]),
        Mutant("graph_kept", "returns the derivative with its graph (requires_grad=True)",
               replace=[("    (d2x,) = torch.autograd.grad(dx.sum(), x)\n    return d2x.detach()\n",
                         "    (d2x,) = torch.autograd.grad(dx.sum(), x, create_graph=True)\n    return d2x\n")]),
        Mutant("second_is_first", "second derivative without create_graph: differentiates f' numerically wrong",
               replace=[("    (dx,) = torch.autograd.grad(fn(x).sum(), x, create_graph=True)\n"
                         "    (d2x,) = torch.autograd.grad(dx.sum(), x)\n    return d2x.detach()\n",
                         "    (dx,) = torch.autograd.grad(fn(x).sum(), x)\n    return dx.detach()\n")]),
        Alternative("functional_api", "torch.func.grad + vmap instead of autograd.grad",
                    replace=[("    x = x.detach().requires_grad_(True)\n    (dx,) = torch.autograd.grad(fn(x).sum(), x)\n    return dx.detach()\n",
                              "    from torch.func import grad, vmap\n"
                              "    flat = x.detach().reshape(-1)\n"
                              "    return vmap(grad(lambda t: fn(t)))(flat).reshape(x.shape)\n")]),
    ],
}
