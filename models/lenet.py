"""LeNet exactly as in the torch.nn.utils.prune tutorial (3/16 channels, 32x32 input)."""
import torch
import torch.nn.functional as F
from torch import nn

from .registry import register_model


@register_model("lenet", "LeNet of the pruning tutorial: conv 1->3->16 (5x5), fc 400-120-84-10; 32x32 input",
                input_padding=2)
class LeNet(nn.Module):
    """conv1 Conv2d(1,3,5) -> conv2 Conv2d(3,16,5) -> fc1 400->120 -> fc2 120->84 -> fc3 84->10."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 3, 5)
        self.conv2 = nn.Conv2d(3, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:     # x: (N, 1, 32, 32)
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)          # (N, 3, 14, 14)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)          # (N, 16, 5, 5)
        x = torch.flatten(x, 1)                             # (N, 400)
        x = F.relu(self.fc1(x))                             # (N, 120)
        x = F.relu(self.fc2(x))                             # (N, 84)
        return self.fc3(x)                                  # (N, 10) logits
