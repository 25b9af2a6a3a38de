"""LeNet exactly as in the torch.nn.utils.prune tutorial (3/16 channels, 32x32 input)."""
import torch
import torch.nn.functional as F
from torch import nn

from .registry import register_model


@register_model("lenet", "LeNet of the pruning tutorial: conv 1->3->16 (5x5), fc 400-120-84-10; 32x32 input",
                input_padding=2)
class LeNet(nn.Module):
    """conv1 Conv2d(1,c1,5) -> conv2 Conv2d(c1,c2,5) -> fc1 c2*25->h1 -> fc2 h1->h2 -> fc3 h2->10.

    The defaults are the tutorial's widths (3, 16) and (120, 84); other widths describe a
    network whose filters / neurons were physically removed (pruning/shrink.py).
    """

    def __init__(self, channels: tuple[int, int] = (3, 16), hidden: tuple[int, int] = (120, 84)) -> None:
        super().__init__()
        c1, c2 = channels
        h1, h2 = hidden
        self.conv1 = nn.Conv2d(1, c1, 5)
        self.conv2 = nn.Conv2d(c1, c2, 5)
        self.fc1 = nn.Linear(c2 * 5 * 5, h1)
        self.fc2 = nn.Linear(h1, h2)
        self.fc3 = nn.Linear(h2, 10)

    def model_args(self) -> dict:
        """Constructor widths read off this instance: create_model("lenet", **model_args()) rebuilds it."""
        return {"channels": (self.conv1.out_channels, self.conv2.out_channels),
                "hidden": (self.fc1.out_features, self.fc2.out_features)}

    def forward(self, x: torch.Tensor) -> torch.Tensor:     # x: (N, 1, 32, 32)
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)          # (N, c1, 14, 14)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)          # (N, c2, 5, 5)
        x = torch.flatten(x, 1)                             # (N, c2*25)
        x = F.relu(self.fc1(x))                             # (N, h1)
        x = F.relu(self.fc2(x))                             # (N, h2)
        return self.fc3(x)                                  # (N, 10) logits
