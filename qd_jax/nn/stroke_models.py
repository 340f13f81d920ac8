"""The stroke model: TensorFlow's "Recurrent Neural Networks for Drawing Classification" in Flax.

1-D convolutions over the stroke-3 sequence, then a bidirectional LSTM, then the mean of its
outputs over the drawing's points and a dense layer to the classes; smaller than the
tutorial's (3 convs of 48/64/96, 3 LSTM layers of 128) so it trains on two CPU cores in minutes.
Inputs are (B, L, 4) rows (dx, dy, pen lifted, valid) from data/strokes.stroke3: padding rows
(valid 0) are zeroed before every convolution, skipped by the LSTMs (seq_lengths) and left out
of the mean, so a drawing's logits do not depend on how far it is padded.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp


class StrokeRNN(nn.Module):
  num_classes: int = 10
  convs: tuple[tuple[int, int], ...] = ((32, 5), (64, 5), (64, 3))  # (features, kernel width)
  lstm: int = 64

  @nn.compact
  def __call__(self, x_bld: jax.Array) -> jax.Array:
    mask = x_bld[..., 3:4]
    h = x_bld[..., :3]
    for i, (features, width) in enumerate(self.convs):
      h = nn.relu(nn.Conv(features, (width,), padding="SAME", name=f"Conv_{i}")(h * mask))
    lengths = jnp.sum(mask[..., 0], -1).astype(jnp.int32)
    forward = nn.RNN(nn.OptimizedLSTMCell(self.lstm), name="LSTM_forward")
    backward = nn.RNN(nn.OptimizedLSTMCell(self.lstm), reverse=True, keep_order=True, name="LSTM_backward")
    h = nn.Bidirectional(forward, backward, name="BiLSTM")(h * mask, seq_lengths=lengths)
    h = jnp.sum(h * mask, 1) / jnp.maximum(lengths, 1)[:, None].astype(h.dtype)
    return nn.Dense(self.num_classes, name="Dense_0")(h)
