"""LightGCN (He et al., SIGIR 2020), the field's standard GNN recommender, as PyTorch Geometric
ships it (``torch_geometric.nn.models.LightGCN``), trained with BPR on a split's training
interactions: a reference for the lists, not part of the app.

Letters: U users, N movies, D embedding size.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from .rankers import Ranker


@dataclasses.dataclass(frozen=True)
class LightGCNConfig:
    """Microsoft Recommenders' MovieLens-100K settings for the published table."""

    dim: int = 64  # D
    layers: int = 3  # propagation steps
    epochs: int = 50  # passes over the training interactions
    batch: int = 1024  # interactions per BPR step
    lr: float = 0.005  # Adam
    reg: float = 1e-4  # L2 on the batch's embeddings (PyG's lambda_reg)
    seed: int = 0


class LightGCNRanker(Ranker):
    """Transductive: ``scores`` needs ``users``, the training rows the lists are for."""

    name = "lightgcn"

    def __init__(self, config: LightGCNConfig = LightGCNConfig()):
        self.config = config

    def fit(self, train: np.ndarray) -> LightGCNRanker:
        from torch_geometric.nn.conv.gcn_conv import gcn_norm  # imported here: only the evaluation needs PyG
        from torch_geometric.nn.models import LightGCN
        from torch_geometric.utils import to_torch_csr_tensor

        c = self.config
        self._set_popularity(train)
        torch.manual_seed(c.seed)
        gen = torch.Generator().manual_seed(c.seed)
        n_users, n_items = train.shape
        u, i = np.nonzero(train > 0)  # (E,) training interactions
        src, dst = torch.from_numpy(u), torch.from_numpy(i + n_users)  # items after users
        edge_index = torch.stack([torch.cat([src, dst]), torch.cat([dst, src])])  # (2, 2E) both directions
        # LightGCN's symmetric normalisation done once, as a sparse adjacency (PyG's documented
        # normalize=False path): 20x faster per step than renormalising the edge list every layer
        nodes = n_users + n_items
        adj = to_torch_csr_tensor(*gcn_norm(edge_index, None, nodes, add_self_loops=False), size=(nodes, nodes))
        model = LightGCN(nodes, c.dim, c.layers, normalize=False)
        opt = torch.optim.Adam(model.parameters(), lr=c.lr)
        seen = torch.from_numpy(train > 0)  # (U, N)
        for _ in range(c.epochs):
            for idx in torch.randperm(len(src), generator=gen).split(c.batch):
                users = src[idx]
                neg = torch.randint(0, n_items, (len(idx),), generator=gen)
                redo = seen[users, neg]
                while redo.any():  # negatives among the movies the user did not rate
                    neg[redo] = torch.randint(0, n_items, (int(redo.sum()),), generator=gen)
                    redo = seen[users, neg]
                pairs = torch.stack([torch.cat([users, users]), torch.cat([dst[idx], neg + n_users])])  # (2, 2b)
                rank = model(adj, pairs)  # (2b,)
                loss = model.recommendation_loss(rank[:len(idx)], rank[len(idx):],
                                                 node_id=pairs.unique(), lambda_reg=c.reg)
                opt.zero_grad()
                loss.backward()
                opt.step()
        with torch.no_grad():
            emb = model.get_embedding(adj)  # (U + N, D)
        self.user_emb, self.item_emb = emb[:n_users].numpy(), emb[n_users:].numpy()
        return self

    def scores(self, x: np.ndarray, users: np.ndarray | None = None) -> np.ndarray:
        if users is None:
            raise ValueError("LightGCN scores only the training users it learnt: pass users= (their rows)")
        return self.user_emb[np.asarray(users)] @ self.item_emb.T  # (B, N)
