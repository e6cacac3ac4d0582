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

VARIANTS["task-3"] = [
    Mutant("forward_difference", "one-sided difference (fn(x + h) − fn(x)) / h instead of the central one",
           replace=[("    return (fn(x + h) - fn(x - h)) / (2 * h)\n", "    return (fn(x + h) - fn(x)) / h\n")]),
    Mutant("divides_by_h", "central difference divided by h instead of 2h",
           replace=[("    return (fn(x + h) - fn(x - h)) / (2 * h)\n", "    return (fn(x + h) - fn(x - h)) / h\n")]),
    Mutant("upcasts_to_float64", "computes the difference in float64 whatever the input dtype",
           replace=[("    return (fn(x + h) - fn(x - h)) / (2 * h)\n",
                     "    x = x.double()\n    return (fn(x + h) - fn(x - h)) / (2 * h)\n")]),
    Mutant("grad_output_ignored", "backward returns dfn(x) without multiplying by grad_output (no chain rule)",
           replace=[("        return grad_output * ctx.dfn(x), None, None\n", "        return ctx.dfn(x), None, None\n")]),
    Mutant("autograd_of_fn", "backward differentiates fn with autograd instead of using the given dfn",
           replace=[("        ctx.dfn = dfn\n", "        ctx.dfn, ctx.fn = dfn, fn\n"),
                    ("        return grad_output * ctx.dfn(x), None, None\n",
                     "        with torch.enable_grad():\n"
                     "            xx = x.detach().requires_grad_(True)\n"
                     "            (d,) = torch.autograd.grad(ctx.fn(xx).sum(), xx)\n"
                     "        return grad_output * d, None, None\n")]),
    Alternative("derivative_saved_in_forward", "saves dfn(x) itself in forward; difference written as two named values",
                replace=[("    return (fn(x + h) - fn(x - h)) / (2 * h)\n",
                          "    right, left = fn(x + h), fn(x - h)\n    return (right - left) * (0.5 / h)\n"),
                         ("        ctx.save_for_backward(x)\n        ctx.dfn = dfn\n",
                          "        ctx.save_for_backward(dfn(x))\n"),
                         ("        (x,) = ctx.saved_tensors\n        return grad_output * ctx.dfn(x), None, None\n",
                          "        (slope,) = ctx.saved_tensors\n        return grad_output * slope, None, None\n")]),
]

_JACOBIAN = ("    return torch.stack([\n"
             "        torch.stack([2 * x0 * x1, x0**2, torch.cos(x2)]),\n"
             "        torch.stack([torch.exp(x0) * x2, -(x2**2), torch.exp(x0) - 2 * x1 * x2]),\n"
             "    ])\n")
_ROWS = ("    rows = []\n"
         "    for i in range(y.numel()):\n"
         "        (row,) = torch.autograd.grad(y[i], x, retain_graph=True, allow_unused=True)\n"
         "        rows.append(torch.zeros_like(x) if row is None else row)\n"
         "    return torch.stack(rows).detach()\n")

VARIANTS["task-4"] = [
    Mutant("jacobian_transposed", "writes the Jacobian with rows and columns swapped (3 × 2)",
           replace=[(_JACOBIAN, _JACOBIAN.replace("    ])\n", "    ]).T\n"))]),
    Mutant("hessian_forgets_product_rule", "∂²φ/∂x0∂x2 without the −x0·x2·sin(x0·x2) term",
           replace=[("    h02 = c - x0 * x2 * s\n", "    h02 = c\n")]),
    Mutant("rows_of_the_sum", "differentiates y.sum() for every row: each row is the sum of all rows",
           replace=[("torch.autograd.grad(y[i], x, retain_graph=True, allow_unused=True)",
                     "torch.autograd.grad(y.sum(), x, retain_graph=True, allow_unused=True)")]),
    Mutant("columns_not_rows", "returns the rows stacked as columns (n × m)",
           replace=[("    return torch.stack(rows).detach()\n", "    return torch.stack(rows, dim=1).detach()\n")]),
    Mutant("graph_freed", "no retain_graph: the second row backpropagates through a freed graph",
           replace=[("torch.autograd.grad(y[i], x, retain_graph=True, allow_unused=True)",
                     "torch.autograd.grad(y[i], x, allow_unused=True)")]),
    Alternative("vjp_rows_and_filled_hessian", "rows as vector-Jacobian products with one-hot vectors; Hessian filled entry by entry",
                replace=[(_ROWS,
                          "    eye = torch.eye(y.numel(), dtype=y.dtype)\n"
                          "    rows = [torch.autograd.grad(y, x, grad_outputs=e, retain_graph=True)[0] for e in eye]\n"
                          "    return torch.stack(rows).detach()\n"),
                         ("    return torch.stack([\n"
                          "        torch.stack([h00, h01, h02]),\n"
                          "        torch.stack([h01, h11, h12]),\n"
                          "        torch.stack([h02, h12, h22]),\n"
                          "    ])\n",
                          "    H = torch.empty(3, 3, dtype=x.dtype)\n"
                          "    for (i, j), v in {(0, 0): h00, (0, 1): h01, (0, 2): h02, (1, 1): h11, (1, 2): h12, (2, 2): h22}.items():\n"
                          "        H[i, j] = H[j, i] = v\n"
                          "    return H\n")]),
]

VARIANTS["task-5"] = [
    Mutant("maxima_too", "takes every sign change of f′, so maxima are returned as well",
           replace=[("    idx = torch.nonzero((grad[:-1] < 0) & (grad[1:] >= 0)).squeeze(1)\n",
                     "    idx = torch.nonzero(grad[:-1] * grad[1:] < 0).squeeze(1)\n")]),
    Mutant("grid_only", "returns the grid cells' midpoints without refining them",
           replace=[("    for _ in range(60):\n", "    for _ in range(0):\n")]),
    Mutant("few_bisections", "10 bisection steps: the derivative at the found points stays far above 1e-8",
           replace=[("    for _ in range(60):\n", "    for _ in range(10):\n")]),
    Mutant("coarse_grid", "a grid of 7 points: minima closer than the grid step are lost",
           replace=[("torch.linspace(a, b, 2001, dtype=torch.float64)", "torch.linspace(a, b, 7, dtype=torch.float64)")]),
    Mutant("float32_grid", "searches in float32 (the default dtype)",
           replace=[("torch.linspace(a, b, 2001, dtype=torch.float64)", "torch.linspace(a, b, 2001)")]),
    Alternative("brentq_on_autograd_derivative", "brackets on a grid, then SciPy's brentq on f′ computed by autograd",
                source='''def find_local_minima(fn, a: float = -3.0, b: float = 3.0) -> torch.Tensor:
    from scipy.optimize import brentq

    def slope(t):
        t = torch.as_tensor(t, dtype=torch.float64).detach().requires_grad_(True)
        return torch.autograd.grad(fn(t).sum(), t)[0]

    xs = torch.linspace(a, b, 1201, dtype=torch.float64)
    d = slope(xs)
    roots = [brentq(lambda t: slope(t).item(), xs[i].item(), xs[i + 1].item(), xtol=1e-15)
             for i in range(len(xs) - 1) if d[i] < 0 <= d[i + 1]]
    return torch.tensor(sorted(roots), dtype=torch.float64)


minima = find_local_minima(f)
print("минимумы:", minima)
'''),
]
