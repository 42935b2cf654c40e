r"""Training's inner loop for a ReLU :class:`~gnnrec.models.LocalGNN`: the exact local forward pass
and its gradient, written by hand.

Letters: B users, V_ℓ nodes where layer ℓ's output is needed (:attr:`LocalPlan.nodes`; the last
layer's are the T targets), K_ℓ taps, F_ℓ features, J = K_1·G + 1 first-layer inputs (the shifted
signals plus a constant 1 that carries the bias).
"""

from __future__ import annotations

import torch

from ..models import GNNConfig, LocalGNN
from .local import LocalPlan

_relu_grad = torch.ops.aten.threshold_backward.grad_input  # g[a <= 0] = 0, in place


def loss_and_grad(pred: torch.Tensor, label: torch.Tensor, loss: str) -> tuple[float, torch.Tensor]:
    r"""Mean loss and its gradient with respect to ``pred`` (both ``(B,)``), with :math:`d = \hat y - y`:

    - ``smooth_l1`` (β = 1, :class:`torch.nn.SmoothL1Loss`): :math:`\frac1B \sum \tfrac12 d^2` where
      :math:`|d| < 1`, else :math:`|d| - \tfrac12`; that is :math:`\frac1B \sum c\,(d - \tfrac12 c)`
      with :math:`c = \mathrm{clamp}(d, -1, 1)`, and the gradient is :math:`c / B`.
    - ``mse`` (:class:`torch.nn.MSELoss`): :math:`\frac1B \sum d^2`; gradient :math:`2d / B`.
    """
    d = pred - label  # (B,)
    n = d.numel()
    if loss == "smooth_l1":
        c = d.clamp(-1.0, 1.0)
        return float(torch.dot(c, d.sub(c, alpha=0.5))) / n, c.div_(n)
    if loss == "mse":
        return float(torch.dot(d, d)) / n, d.mul_(2.0 / n)
    raise ValueError(f"loss={loss!r}: choose 'smooth_l1' or 'mse'")


class LocalStep:
    r"""The forward pass of :func:`gnnrec.fast.local.forward_local` and its gradient, for ReLU models.

    .. math::
        A_1 = \sigma(Z' H_1'), \qquad
        Z_\ell = \big[P_\ell[0] A_{\ell-1}, \dots, P_\ell[K_\ell-1] A_{\ell-1}\big], \qquad
        A_\ell = \sigma(Z_\ell W_\ell + b_\ell), \qquad
        \hat y = A_L w + c

    where :math:`Z' = [Z, 1]` holds the shifted inputs :math:`S^k X` at :math:`V_1` with a
    constant column, :math:`H_1' = [H_1; b_1]` (the bias as a weight row, so its gradient comes
    out of the same product), :math:`P_\ell[k] = (S^k)[V_\ell, V_{\ell-1}]` are the plan's blocks and
    :math:`W_\ell` stacks layer ℓ's :math:`H_{\ell k}`. Backward, with ReLU masks
    :math:`M_\ell = [A_\ell > 0]` and :math:`D_L = (\partial L / \partial \hat y)\, w^\top \odot M_L`:

    .. math::
        \partial W_\ell = Z_\ell^\top D_\ell, \quad
        \partial b_\ell = 1^\top D_\ell, \quad
        D_{\ell-1} = \Big(\sum_k P_\ell[k]^\top \big(D_\ell W_\ell^\top\big)_k\Big) \odot M_{\ell-1}, \quad
        \partial H_1' = Z'^\top D_1

    These are the numbers autograd computes through :func:`gnnrec.fast.local.forward_local` (a test checks
    them); by hand they need no autograd graph, no separate bias reductions and no fresh tensor
    for each ReLU mask: at B = 5 users that bookkeeping is a large share of a step
    (docs/performance.md).

    Args:
        plan: the :class:`LocalPlan` of the model's targets.

    Shapes:
        - :meth:`inputs`: z ``(U, V_1, K_1*G)`` -> ``(U, V_1, J)``
        - :meth:`forward`: zt ``(B, V_1, J)`` -> ``(B, T)``
        - :meth:`loss_and_grad`: zt ``(B, V_1, J)``, offset and label ``(B,)`` (one target) -> loss
    """

    def __init__(self, plan: LocalPlan):
        self.plan = plan
        layers = len(plan.nodes) - 1
        self.blocks = [None, None] + [plan.blocks[i].flatten(0, 1) for i in range(2, layers + 1)]  # (K*V_l, V_{l-1})
        self.blocks_t = [None if b is None else b.t().contiguous() for b in self.blocks]  # (V_{l-1}, K*V_l)

    @staticmethod
    def supports(config: GNNConfig) -> bool:
        """Whether this hand-written pass applies to such a model: ReLU layers (every LocalGNN's
        layers have biases); the linear filter trains on its folded input instead."""
        return config.nonlinearity == "relu"

    @staticmethod
    def inputs(z: torch.Tensor) -> torch.Tensor:
        """Append the constant input that carries layer 1's bias: ``(U, V_1, J-1)`` -> ``(U, V_1, J)``."""
        return torch.cat([z, z.new_ones(*z.shape[:-1], 1)], dim=-1).contiguous()

    @torch.no_grad()
    def _forward(self, model: LocalGNN, zt: torch.Tensor) -> tuple[torch.Tensor, list, list]:
        b, v, j = zt.shape
        first = model.layers[0]
        h = torch.cat([first.weight.flatten(0, 1), first.bias[None]])  # (J, F_1)
        acts = [torch.mm(zt.view(b * v, j), h).relu_()]  # A_1: (B*V_1, F_1)
        zs = [zt.view(b * v, j)]  # each layer's input Z_l: (B*V_l, K_l*F_{l-1})
        for i, layer in enumerate(model.layers[1:], start=2):
            k, m, v_prev = self.plan.blocks[i].shape
            f = acts[-1].shape[1]
            u = torch.matmul(self.blocks[i], acts[-1].view(b, v_prev, f))  # (B, K*V_l, F)
            z = u.view(b, k, m, f).transpose(1, 2).reshape(b * m, k * f)  # (B*V_l, K*F)
            zs.append(z)
            acts.append(torch.addmm(layer.bias, z, layer.weight.flatten(0, 1)).relu_())  # (B*V_l, F_l)
        out = torch.addmm(model.readout.bias, acts[-1], model.readout.weight.t())  # (B*T, 1)
        return out.view(b, -1), acts, zs  # (B, T)

    def forward(self, model: LocalGNN, zt: torch.Tensor) -> torch.Tensor:
        """Predictions at the targets, no gradient: ``(B, V_1, J)`` -> ``(B, T)``."""
        return self._forward(model, zt)[0]

    @torch.no_grad()
    def loss_and_grad(self, model: LocalGNN, zt: torch.Tensor, offset: torch.Tensor, label: torch.Tensor,
                      loss: str) -> float:
        """The mean loss of ``forward(model, zt)[:, 0] + offset`` against ``label`` (one target),
        with every parameter's gradient written to its ``.grad`` (into the existing tensor when
        there is one). Returns the loss."""
        out, acts, zs = self._forward(model, zt)
        if out.shape[1] != 1:
            raise ValueError(f"loss_and_grad trains one target; this plan has {out.shape[1]}")
        value, d_pred = loss_and_grad(out[:, 0] + offset, label, loss)  # (B,)
        b = zt.shape[0]
        d_out = d_pred[:, None]  # (B*T, 1) with T = 1
        _put(model.readout.weight, d_out.t() @ acts[-1])  # (1, F_L)
        _put(model.readout.bias, d_out.sum(0))  # (1,)
        d = d_out * model.readout.weight  # (B*T, F_L)
        for i in range(len(model.layers), 1, -1):
            layer = model.layers[i - 1]
            _relu_grad(d, acts[i - 1], 0, grad_input=d)  # D_l
            _put(layer.weight, (zs[i - 1].t() @ d).view_as(layer.weight))  # (K*F_{l-1}, F_l)
            _put(layer.bias, d.sum(0))
            k, m, v_prev = self.plan.blocks[i].shape
            dz = d @ layer.weight.flatten(0, 1).t()  # (B*V_l, K*F_{l-1})
            f = dz.shape[1] // k
            dz = dz.view(b, m, k, f).transpose(1, 2).reshape(b, k * m, f)  # (B, K*V_l, F_{l-1})
            d = torch.matmul(self.blocks_t[i], dz).view(b * v_prev, f)  # (B*V_{l-1}, F_{l-1})
        _relu_grad(d, acts[0], 0, grad_input=d)  # D_1
        g = zs[0].t() @ d  # (J, F_1)
        first = model.layers[0]
        _put(first.weight, g[:-1].view_as(first.weight))
        _put(first.bias, g[-1])
        return value


def _put(param: torch.Tensor, grad: torch.Tensor) -> None:
    if param.grad is None:
        param.grad = grad.contiguous()
    else:
        param.grad.copy_(grad)
