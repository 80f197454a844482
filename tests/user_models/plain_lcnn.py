"""asvspoof2019's built-in LCNN stand-in (widths ×0.125) written as a user would, plain PyTorch, with
the max-feature-map of the common public LCNNs: the larger of channel i and channel i + C/2 of the
convolution before it (tests/tasks/test_user_model.py)."""

import torch
from torch import nn

# (channels after the max-feature-map, kernel, max pool after, BatchNorm after)
LAYOUT = (
    (4, 5, True, False),
    (4, 1, False, True),
    (6, 3, True, True),
    (6, 1, False, True),
    (8, 3, True, False),
    (8, 1, False, True),
    (4, 3, False, True),
    (4, 1, False, True),
    (4, 3, True, False),
)


class MaxFeatureMap(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first, second = torch.split(x, x.shape[1] // 2, dim=1)
        return torch.max(first, second)


class LCNN(nn.Module):
    def __init__(self, fc: int = 10) -> None:
        super().__init__()
        layers, c_in = [], 1
        for width, kernel, pool, norm in LAYOUT:
            layers += [nn.Conv2d(c_in, 2 * width, kernel, padding=kernel // 2), MaxFeatureMap()]
            layers += [nn.MaxPool2d(2, 2, ceil_mode=True)] if pool else []
            layers += [nn.BatchNorm2d(width)] if norm else []
            c_in = width
        self.body = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Linear(c_in, 2 * fc)
        self.norm = nn.BatchNorm1d(fc)
        self.fc2 = nn.Linear(fc, 2)
        for module in self.modules():  # He initialisation, as public LCNNs use
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(module.weight)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.body(features.unsqueeze(1))).flatten(1)
        first, second = torch.split(self.fc1(x), self.fc1.out_features // 2, dim=1)
        return self.fc2(self.norm(torch.max(first, second)))


def build() -> nn.Module:
    return LCNN()
