"""asvspoof2019's built-in ResNet stand-in (blocks (1, 1, 1, 1), widths 4/8/16/32) written as a user
would, plain PyTorch: its knobs are found automatically (tests/tasks/test_user_model.py)."""

import torch
from torch import nn


def conv_bn(c_in: int, c_out: int, kernel: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(c_out))


class Block(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1, self.conv2 = conv_bn(c_in, c_out, 3, stride), conv_bn(c_out, c_out, 3, 1)
        self.shortcut = conv_bn(c_in, c_out, 1, stride) if stride > 1 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv2(torch.relu(self.conv1(x))) + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self, widths: tuple[int, ...] = (4, 8, 16, 32)) -> None:
        super().__init__()
        self.stem = nn.Sequential(*conv_bn(1, widths[0], 3, 2), nn.ReLU(), nn.MaxPool2d(3, 2, 1))
        ins = (widths[0], *widths[:-1])
        strides = (1,) + (2,) * (len(widths) - 1)
        self.stages = nn.Sequential(*(Block(c_in, c_out, s) for c_in, c_out, s in zip(ins, widths, strides)))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(widths[-1], 2)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.stages(self.stem(features.unsqueeze(1)))).flatten(1))


def build() -> nn.Module:
    return ResNet()
