"""The top-N task: lists of unseen movies per user, the references the field uses, the ranking GNN."""
