"""Reference VADs measured on the task's own test mixtures: Silero VAD and WebRTC VAD.

Silero VAD (the `silero-vad` wheel, its bundled TorchScript weights, offline) reads 16 kHz audio in
512-sample (32 ms) chunks, carrying its LSTM state and 64 samples of context from chunk to chunk;
each 10 ms frame takes the speech probability of the chunk holding the frame's centre. Its MACs are
counted by the project's counter (fvcore) on an eager replica of the 16 kHz branch built from the
TorchScript weights (fvcore cannot trace the scripted module; `SileroReplica` is checked against
it): a fixed STFT as a Conv1d (258 filters of 256 taps, hop 128), four Conv1d + ReLU, an LSTMCell(128)
and a 1×1 conv, 679,552 MACs per chunk, × 31.25 chunks per second.

WebRTC VAD (`webrtcvad-wheels`) decides speech / non-speech per 10 ms frame (16-bit PCM at 16 kHz),
at one of four aggressiveness modes. A binary detector has one operating point, so its "eer" is
the half total error rate there, (miss + false alarm) / 2, and its AUC is 1 − HTER.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import nn

from tradeoff_bench.core.flops import count_macs
from tradeoff_bench.tasks.base import Peer
from tradeoff_bench.tasks.vad.features import HOP, SAMPLE_RATE
from tradeoff_bench.tasks.vad.metrics import decision_metrics, frame_metrics

CHUNK = 512
CONTEXT = 64


def load_silero() -> torch.jit.ScriptModule:
    try:
        from silero_vad import load_silero_vad
    except ImportError as err:
        raise RuntimeError("the Silero VAD peer needs the `silero-vad` wheel (pip install silero-vad)") from err
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # importlib.resources.path inside the wheel
        return load_silero_vad()


@torch.no_grad()
def silero_frame_scores(audio: np.ndarray, model: torch.jit.ScriptModule | None = None) -> np.ndarray:
    """(mixtures, frames) speech probabilities: every mixture streamed chunk by chunk, in one batch."""
    model = model or load_silero()
    mixtures, samples = audio.shape
    chunks = -(-samples // CHUNK)
    padded = torch.zeros(mixtures, chunks * CHUNK)
    padded[:, :samples] = torch.from_numpy(audio)
    model.reset_states()
    probs = torch.stack([model(padded[:, c * CHUNK : (c + 1) * CHUNK], SAMPLE_RATE)[:, 0] for c in range(chunks)], 1)
    model.reset_states()
    centres = np.arange(samples // HOP) * HOP + HOP // 2
    return probs.numpy()[:, centres // CHUNK]


class SileroReplica(nn.Module):
    """Silero VAD's 16 kHz branch as a plain module, for MAC counting: input (B, 64 + 512) samples."""

    basis: torch.Tensor

    def __init__(self, scripted: torch.jit.ScriptModule) -> None:
        super().__init__()
        branch = scripted._model
        self.register_buffer("basis", branch.stft.forward_basis_buffer.detach().clone())
        self.hop = int(branch.stft.hop_length)
        self.encoder = nn.ModuleList()
        for _, block in branch.encoder.named_children():
            scripted_conv = block.reparam_conv
            out_ch, in_ch, kernel = scripted_conv.weight.shape
            conv = nn.Conv1d(in_ch, out_ch, kernel, stride=scripted_conv.stride, padding=scripted_conv.padding)
            conv.load_state_dict({"weight": scripted_conv.weight, "bias": scripted_conv.bias})
            self.encoder.append(conv)
        rnn = branch.decoder.rnn
        self.rnn = nn.LSTMCell(rnn.weight_ih.shape[1], rnn.weight_hh.shape[1])
        self.rnn.load_state_dict({k: getattr(rnn, k) for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")})
        head = getattr(branch.decoder.decoder, "2")
        self.head = nn.Conv1d(head.weight.shape[1], 1, 1)
        self.head.load_state_dict({"weight": head.weight, "bias": head.bias})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.pad(x.unsqueeze(1), (0, CONTEXT), mode="reflect")
        spectrum = nn.functional.conv1d(x, self.basis, stride=self.hop)
        half = self.basis.shape[0] // 2
        x = torch.sqrt(spectrum[:, :half] ** 2 + spectrum[:, half:] ** 2)
        for conv in self.encoder:
            x = torch.relu(conv(x))
        h, _ = self.rnn(x.squeeze(-1))
        return torch.sigmoid(self.head(torch.relu(h).unsqueeze(-1))).squeeze(1).mean(1, keepdim=True)


def _lstm_cell(inputs: list, outputs: list) -> int:
    """aten::lstm_cell(input, (h, c), w_ih, w_hh, ...): both weight matrices once per row."""
    batch = inputs[0].type().sizes()[0]
    return batch * sum(int(np.prod(v.type().sizes())) for v in inputs[2:4])


def silero_macs_per_second(scripted: torch.jit.ScriptModule) -> tuple[int, int]:
    """(MACs per second of 16 kHz audio, parameters of the 16 kHz branch), counted by fvcore."""

    replica = SileroReplica(scripted).eval()
    per_chunk = count_macs(replica, torch.zeros(1, CONTEXT + CHUNK), extra_handles={"aten::lstm_cell": _lstm_cell})
    params = sum(p.numel() for p in replica.parameters())
    return per_chunk * SAMPLE_RATE // CHUNK, params


def silero_peer(audio: np.ndarray, labels: np.ndarray, snr_db: np.ndarray) -> Peer:
    model = load_silero()
    macs, params = silero_macs_per_second(model)
    return Peer(
        label="Silero VAD v6",
        metrics=frame_metrics(silero_frame_scores(audio, model), labels, snr_db),
        macs=macs,
        macs_source="fvcore on an eager replica of the 16 kHz branch (TorchScript does not trace): 31.25 chunks/s",
        params=params,
        note="silero-vad wheel weights; 32 ms chunks, each 10 ms frame scored by the chunk holding its centre",
    )


def webrtc_frame_decisions(audio: np.ndarray, mode: int) -> np.ndarray:
    """(mixtures, frames) 0/1 decisions of WebRTC VAD at aggressiveness `mode` (0–3)."""
    import webrtcvad

    vad = webrtcvad.Vad(mode)
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2")
    frames = audio.shape[1] // HOP
    out = np.zeros((audio.shape[0], frames), dtype=np.float64)
    for i, row in enumerate(pcm):
        data = row.tobytes()
        for t in range(frames):
            out[i, t] = vad.is_speech(data[2 * HOP * t : 2 * HOP * (t + 1)], SAMPLE_RATE)
    return out


def webrtc_peers(audio: np.ndarray, labels: np.ndarray, snr_db: np.ndarray) -> list[Peer]:
    return [
        Peer(
            label=f"WebRTC VAD mode {mode}",
            metrics=decision_metrics(webrtc_frame_decisions(audio, mode), labels, snr_db),
            macs=None,
            macs_source="unknown (C library)",
            note="binary decisions: 'eer' is the half total error rate at its one operating point",
        )
        for mode in range(4)
    ]
