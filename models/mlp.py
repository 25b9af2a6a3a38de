"""The 784-128-10 MLP of the gradient/weight/neuron pruning article."""
import torch
import torch.nn.functional as F
from torch import nn

from .registry import register_model


@register_model("mlp", "MLP 784-128-10 with ReLU, trained with cross-entropy on logits")
class MLP(nn.Module):
    """fc1 784->hidden -> ReLU -> fc2 hidden->10."""

    def __init__(self, hidden: int = 128) -> None:
        super().__init__()
        self.fc1 = nn.Linear(28 * 28, hidden)
        self.fc2 = nn.Linear(hidden, 10)

    def model_args(self) -> dict:
        """Constructor widths read off this instance: create_model("mlp", **model_args()) rebuilds it."""
        return {"hidden": self.fc1.out_features}

    def forward(self, x: torch.Tensor) -> torch.Tensor:     # x: (N, 1, 28, 28)
        x = torch.flatten(x, 1)                             # (N, 784)
        return self.fc2(F.relu(self.fc1(x)))                # (N, 10) logits
