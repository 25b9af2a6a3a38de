"""A compact VGG-style CNN for 28x28 digits: stacked 3x3 convolutions, pooling, small classifier."""
import torch
import torch.nn.functional as F
from torch import nn

from .registry import register_model


@register_model("convnet", "VGG-style CNN: 3x3 convs 16-32-64 with pooling, fc 576-128-10",
                channels=(16, 32, 64), hidden=128)
class ConvNet(nn.Module):
    """conv1 1->c1, pool, conv2 c1->c2, pool, conv3 c2->c3, pool, fc1 c3*3*3->hidden, fc2 hidden->10."""

    def __init__(self, channels: tuple[int, int, int] = (16, 32, 64), hidden: int = 128) -> None:
        super().__init__()
        c1, c2, c3 = channels
        self.conv1 = nn.Conv2d(1, c1, 3, padding=1)
        self.conv2 = nn.Conv2d(c1, c2, 3, padding=1)
        self.conv3 = nn.Conv2d(c2, c3, 3, padding=1)
        self.fc1 = nn.Linear(c3 * 3 * 3, hidden)
        self.fc2 = nn.Linear(hidden, 10)

    def model_args(self) -> dict:
        """Constructor widths read off this instance: create_model("convnet", **model_args()) rebuilds it."""
        return {"channels": (self.conv1.out_channels, self.conv2.out_channels, self.conv3.out_channels),
                "hidden": self.fc1.out_features}

    def forward(self, x: torch.Tensor) -> torch.Tensor:     # x: (N, 1, 28, 28)
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)          # (N, c1, 14, 14)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)          # (N, c2, 7, 7)
        x = F.max_pool2d(F.relu(self.conv3(x)), 2)          # (N, c3, 3, 3)
        x = torch.flatten(x, 1)                             # (N, c3*9)
        return self.fc2(F.relu(self.fc1(x)))                # (N, 10) logits
