"""One pruned model's measurement as the shared store keeps it, and its exact round trip to bytes."""
from __future__ import annotations

import hashlib
import json
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np
import torch

from .config import PruneConfig
from .engine import PruneResult
from .stats import LayerStats


class CorruptEntry(ValueError):
    """Stored bytes that do not decode to the measurement of the key they are stored under."""


@dataclass(frozen=True, eq=False)
class Measurement:
    """What the views need of one pruned model measured over a whole eval set (no weights)."""

    layers: tuple[LayerStats, ...]
    layers_before: tuple[LayerStats, ...]
    global_sparsity: float
    total_params: int
    nonzero_params: int
    eval_set: str
    accuracy_before: float
    accuracy_after: float
    predictions_before: np.ndarray = field(repr=False)   # (N,) uint8 classes of the dense model
    predictions_after: np.ndarray = field(repr=False)    # (N,) uint8 classes of the pruned model
    timings: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, result: PruneResult) -> "Measurement":
        """The measurement of a result that prune_model measured over an eval set."""
        if result.predictions_after is None:
            raise ValueError("the result was not measured over an eval set")
        return cls(tuple(result.layers), tuple(result.layers_before), result.global_sparsity, result.total_params,
                   result.nonzero_params, result.eval_set, result.accuracy_before, result.accuracy_after,
                   result.predictions_before.numpy().astype(np.uint8), result.predictions_after.numpy().astype(np.uint8),
                   dict(result.timings))

    def result(self, config: PruneConfig) -> PruneResult:
        """A PruneResult of `config` holding these numbers (no model: rebuilt from masks where needed)."""
        return PruneResult(config, list(self.layers), list(self.layers_before), self.global_sparsity,
                           self.total_params, self.nonzero_params, self.eval_set, self.accuracy_before,
                           self.accuracy_after, torch.from_numpy(self.predictions_before.astype(np.int64)),
                           torch.from_numpy(self.predictions_after.astype(np.int64)), timings=dict(self.timings),
                           from_store=True)

    def encode(self, key: str) -> bytes:
        """Bytes for the store: a 4-byte header length, a JSON header naming `key`, zlib'd predictions."""
        header = json.dumps({"key": key, "layers": [_layer(s) for s in self.layers],
                             "layers_before": [_layer(s) for s in self.layers_before],
                             "global_sparsity": self.global_sparsity, "total_params": self.total_params,
                             "nonzero_params": self.nonzero_params, "eval_set": self.eval_set,
                             "accuracy_before": self.accuracy_before, "accuracy_after": self.accuracy_after,
                             "digits": int(self.predictions_after.shape[0]), "timings": self.timings}).encode()
        body = zlib.compress(self.predictions_before.tobytes() + self.predictions_after.tobytes(), 6)
        return struct.pack(">I", len(header)) + header + body

    @classmethod
    def decode(cls, data: bytes, key: str) -> "Measurement":
        """The measurement `encode(key)` wrote; CorruptEntry for anything else (truncated, foreign, garbled)."""
        try:
            (length,) = struct.unpack(">I", data[:4])
            header = json.loads(data[4:4 + length])
            predictions = np.frombuffer(zlib.decompress(data[4 + length:]), dtype=np.uint8)
            digits = int(header["digits"])
            if header["key"] != key or predictions.shape != (2 * digits,) or int(predictions.max(initial=0)) > 9:
                raise CorruptEntry(f"entry does not belong to key {key[:12]}")
            return cls(tuple(LayerStats(*s) for s in header["layers"]),
                       tuple(LayerStats(*s) for s in header["layers_before"]), float(header["global_sparsity"]),
                       int(header["total_params"]), int(header["nonzero_params"]), str(header["eval_set"]),
                       float(header["accuracy_before"]), float(header["accuracy_after"]),
                       predictions[:digits].copy(), predictions[digits:].copy(), dict(header["timings"]))
        except CorruptEntry:
            raise
        except (struct.error, ValueError, KeyError, TypeError, zlib.error) as err:
            raise CorruptEntry(f"unreadable entry: {type(err).__name__}") from None


def checksum(data: bytes) -> str:
    """The digest stored beside an entry's bytes (a flipped bit anywhere is caught)."""
    return hashlib.sha256(data).hexdigest()


def _layer(stats: LayerStats) -> list:
    return [stats.name, stats.kind, stats.total, stats.zeros]
